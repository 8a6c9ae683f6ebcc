// The wrapper around user code in the sandbox (engine/expressions/worker.py reads it).
// Binding *values* never enter the source: they arrive as one JSON string argument that
// the runner parses. __FM_PARAMS__ (checked identifiers) and __FM_MAX__ are replaced;
// the user's code goes between the two parts, at the marker line.
(function () {
const __fm_logs = [];
let __fm_logBytes = 0, __fm_dropped = 0, __fm_b = {};
const __fm_maxLogBytes = __FM_MAX__;
const __fm_text = (v) => {
  if (typeof v === "string") return v;
  try { const s = JSON.stringify(v); return s === undefined ? String(v) : s; }
  catch (e) { try { return String(v); } catch (e2) { return "[unprintable]"; } }
};
const __fm_lookup = (path) => {
  let v = __fm_b;
  for (const step of path.split(".")) {
    if (v === null || typeof v !== "object" || !Object.prototype.hasOwnProperty.call(v, step)) return undefined;
    v = v[step];
  }
  return v;
};
// The seed documentation logs 'Branch ${branch.id} ...' inside a plain-quoted string; a
// `${path}` left in a logged string whose first step is a bound name is filled in.
const __fm_fill = (s) => s.replace(/\$\{\s*([A-Za-z_$][\w$]*(?:\.[\w$]+)*)\s*\}/g, (m, path) => {
  const root = path.split(".")[0];
  if (!Object.prototype.hasOwnProperty.call(__fm_b, root)) return m;
  const v = __fm_lookup(path);
  return v === undefined ? m : __fm_text(v);
});
const __fm_write = (prefix) => function (...args) {
  const line = prefix + args.map((a) => typeof a === "string" ? __fm_fill(a) : __fm_text(a)).join(" ");
  if (__fm_logBytes + line.length > __fm_maxLogBytes || __fm_logs.length >= 1000) { __fm_dropped++; return; }
  __fm_logBytes += line.length;
  __fm_logs.push(line);
};
const console = Object.freeze({
  log: __fm_write(""), info: __fm_write(""), debug: __fm_write(""), trace: __fm_write(""),
  warn: __fm_write("[warn] "), error: __fm_write("[error] "),
});
const __fm_user = function (__FM_PARAMS__) {
// ---- the user's code goes here (worker.py: build_source) ----
const __fm_where = (e) => {
  const stack = (e && typeof e === "object") ? String(e.stack || "") : "";
  const m = /<anonymous>:(\d+)(?::(\d+))?/.exec(stack);
  return m ? [Number(m[1]), Number(m[2] || 0)] : null;
};
// A thrown value can be megabytes: cut here, before it is copied out (a 30 MB message took
// longer to hand over than the time limit). The engine cuts every error to the same length.
const __fm_cut = (s) => s.length > 10000 ? s.slice(0, 10000) + "… (" + (s.length - 10000) + " more characters cut)" : s;
const __fm_describe = (e) => {
  try {
    if (e instanceof Error) return __fm_cut(String(e.name) + ": " + String(e.message));
    return __fm_cut("Uncaught " + __fm_text(e));
  } catch (e2) { return "Uncaught error"; }
};
// Taken before the user's code runs (it runs only when the function below is called): a
// script that replaces JSON.stringify or Reflect.apply cannot forge or break the reply's
// head. Its *value* is still serialised by whatever JSON.stringify the script left, and
// sandbox.py parses that strictly (no NaN, no Infinity).
const __fm_stringify = JSON.stringify, __fm_apply = Reflect.apply;
const __fm_reply = (head, value) => {
  if (__fm_dropped) __fm_logs.push("... " + __fm_dropped + " more log line(s) dropped");
  head.logs = __fm_logs;
  return __fm_apply(__fm_stringify, JSON, [head]) + "\n" + (value === undefined ? "" : value);
};
return function (__fm_json, __fm_names, __fm_maxOut) {
  __fm_b = JSON.parse(__fm_json);
  const args = JSON.parse(__fm_names).map((n) => __fm_b[n]);
  let value;
  try {
    value = __fm_user.apply(undefined, args);
  } catch (e) {
    return __fm_reply({ok: false, kind: "thrown", message: __fm_describe(e), where: __fm_where(e)});
  }
  if (value !== null && (typeof value === "object" || typeof value === "function") && typeof value.then === "function") {
    return __fm_reply({ok: false, kind: "not_serialisable", message: "the result is a Promise; asynchronous code is not supported"});
  }
  if (typeof value === "function" || typeof value === "symbol" || typeof value === "bigint") {
    return __fm_reply({ok: false, kind: "not_serialisable", message: "the result is a " + typeof value + ", not JSON"});
  }
  let out;
  try {
    out = JSON.stringify(value);
  } catch (e) {
    return __fm_reply({ok: false, kind: "not_serialisable", message: __fm_describe(e)});
  }
  if (out === undefined) out = "null";
  if (out.length > __fm_maxOut) {
    return __fm_reply({ok: false, kind: "output_too_large", message: "the result is " + out.length + " characters of JSON"});
  }
  return __fm_reply({ok: true}, out);
};
})()
