// The page's Content-Security-Policy nonce. templates/base.html renders it in the `nonce`
// attribute of a <meta>: browsers hide that attribute from selectors and getAttribute (so
// injected CSS cannot read it), and the `nonce` property still returns it. Libraries that
// insert <style> elements at run time (CodeMirror) need it: the policy allows no other
// inline <style> element.
export function cspNonce(): string | undefined {
  if (typeof document === "undefined") return undefined;
  const meta = document.querySelector<HTMLMetaElement>('meta[property="csp-nonce"]');
  return meta?.nonce || undefined;
}
