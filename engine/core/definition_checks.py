"""The rules a definition must meet beyond its shape (SPEC §3), used by
`engine.core.graph.validate_definition`: node configs against their schemas, unknown keys
pointed to where they belong, policies and references placed where they cannot apply
("an error, not a no-op"), and template references that cannot resolve.

Every problem is a dict naming its node or edge (`issue`); none of these rules needs the
built graph, so this module does not import it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.core import rules
from engine.core.bounded import BoundedCache

TEMPLATE_REF = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")
# Names every template may start with besides node ids and the loop item variable.
BUILTIN_ROOTS = frozenset({"input", "variables", "parallel", "branch", "execution", "trace", "signal", "item"})


@dataclass
class ValidationReport:
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        return {"errors": self.errors, "warnings": self.warnings}


def issue_text(problem: Mapping[str, Any]) -> str:
    where = problem.get("nodeId") or problem.get("edgeId")
    return f"{where}: {problem['message']}" if where else str(problem["message"])


def issue(message: str, *, node: str | None = None, edge: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"message": message}
    if node is not None:
        out["nodeId"] = node
    if edge is not None:
        out["edgeId"] = edge
    return out


# Bounded: a long-lived engine sees many versions.
_CONFIG_PROBLEMS: BoundedCache[tuple[str, str], tuple[str, ...]] = BoundedCache(20_000)
_NODE_VALIDATORS: dict[type, tuple[dict[str, Any], Any]] = {}


def config_problems(cls: Any, config: Mapping[str, Any]) -> tuple[str, ...]:
    """The schema problems of one node config (unknown keys, types, ranges). Remembered per
    (type, config): workflows repeat configs (a loop body, generated chains), and every run
    of a new version plans it again; schema validation is the costliest part of planning."""
    try:
        key = (cls.type, json.dumps(config, sort_keys=True, default=str))
    except (TypeError, ValueError):
        key = None
    if key is not None:
        remembered = _CONFIG_PROBLEMS.get(key)
        if remembered is not None:
            return remembered
    known = _NODE_VALIDATORS.get(cls)
    if known is None:
        schema = cls.full_schema()
        known = _NODE_VALIDATORS[cls] = (schema, rules.validator_for(schema))
    problems = tuple(rules.schema_problems(known[0], config, "config", known[1]))
    if isinstance(config, Mapping):
        # An empty string in a required field is as good as none (the editor says so too):
        # saved as valid, an empty `url` or `expression` only failed each run later.
        # That is the one problem of such a field: "'' is not a number of milliseconds…"
        # beside it said the same in other words, and the editor's instant check (which
        # says only "is required") gained a line when this answer replaced it.
        empty = [field for field in known[0].get("required", ()) if config.get(field) == ""]
        problems = tuple(p for p in problems if not any(p.startswith(f"config.{field}: ") for field in empty))
        problems += tuple(f"config.{field}: is required (it is empty)" for field in empty)
        if not problems:
            problems = tuple(cls.config_checks(config))
    if key is not None:
        _CONFIG_PROBLEMS.put(key, problems)
    return problems


def misplaced(key: str, where: str, known: tuple[str, ...]) -> str:
    """An unknown key next to the node/edge/definition fields; a settings or config key
    put one level too high is pointed to where it belongs."""
    guess = rules.nearest(key, list(known))
    if guess is None and key in rules.SETTINGS_SCHEMA["properties"] and where == "the definition":
        guess = f"settings.{key}"
    if guess is None and where == "the node":
        guess = f"config.{key}"
    if guess is None and where == "the edge" and key in rules.BRANCH_SCHEMA["properties"]:
        guess = f"branch.{key}"
    if guess is not None:
        return f"unknown key '{key}' in {where} — did you mean '{guess}'?"
    return f"unknown key '{key}' in {where} (known keys: {', '.join(known)})"


def _in_degree(nodes: Mapping[str, Mapping[str, Any]], edges: list[Any]) -> dict[str, int]:
    degree = dict.fromkeys(nodes, 0)
    for raw in edges:
        degree[raw["target"]] += 1
    return degree


def _is_key(value: Any, keys: Container[str]) -> bool:
    """`value in keys` for a value read from a definition, which may be any JSON."""
    return isinstance(value, str) and value in keys


TEMPLATE_NAME = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


def loop_name_problems(nodes: Mapping[str, Mapping[str, Any]], report: ValidationReport,
                       containers: frozenset[str]) -> None:
    """A loop's `itemVariable` and `outputVariable` are read as `{{name}}`: a name no
    template can reach (`user.name`), or one that a built-in or a node id answers first
    when a template is resolved (engine.core.context), would silently read something else."""
    for node_id, raw in nodes.items():
        config = raw.get("config")
        if not _is_key(raw.get("type"), containers) or not isinstance(config, Mapping):
            continue
        for key, what in (("itemVariable", "the item"), ("outputVariable", "the results")):
            name = config.get(key)
            if not isinstance(name, str) or name == "":
                continue  # a wrong type is the schema's error; empty means the default
            if not TEMPLATE_NAME.match(name):
                message = (f"config.{key}: {name!r} is not a name a template can use: "
                           "letters, digits, _ and $, not starting with a digit")
            elif name in BUILTIN_ROOTS - {"item"}:
                message = f"config.{key}: {name!r} is a built-in name: {{{{{name}}}}} would not read {what}"
            elif key == "outputVariable" and name in nodes:
                message = (f"config.{key}: {name!r} is a node id: {{{{{name}}}}} would read that node's "
                           "output, not the results")
            else:
                continue
            report.errors.append(issue(message, node=node_id))


def placement_problems(definition: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]],
                        report: ValidationReport, containers: frozenset[str]) -> None:
    """Policies and references that are well-formed but would do nothing where they are
    (SPEC §3: "a policy where it cannot apply is an error, not a no-op")."""
    err = report.errors
    # Only the well-formed edges: the others already have their own errors. (Every lookup
    # here takes strings only: a list or object where an id belongs is unhashable, a 500.)
    edges = [e for e in definition.get("edges") or [] if isinstance(e, Mapping) and isinstance(e.get("id"), str)
             and _is_key(e.get("source"), nodes) and _is_key(e.get("target"), nodes)]
    degree = _in_degree(nodes, edges)
    fan_out: dict[str, int] = {}
    for raw in edges:
        if not _is_key(raw.get("sourceHandle"), rules.ROUTING_HANDLES):
            fan_out[raw["source"]] = fan_out.get(raw["source"], 0) + 1
    joins = {n for n, d in degree.items() if d > 1}
    loops = {n for n, raw in nodes.items() if _is_key(raw.get("type"), containers)}
    for node_id, raw in nodes.items():
        config = raw.get("config") or {}
        if not isinstance(config, Mapping):
            continue
        compensate = config.get("compensate")
        if isinstance(compensate, str) and compensate not in nodes:
            hint = rules.nearest(compensate, list(nodes))
            err.append(issue(f"config.compensate: {compensate!r} is not a node"
                              + (f" — did you mean '{hint}'?" if hint else ""), node=node_id))
        policy = config.get("parallel")
        if isinstance(policy, Mapping) and raw.get("type") != "merge" and not _is_key(raw.get("type"), containers) and node_id not in joins:
            err.append(issue(
                "config.parallel: a parallel policy applies where branches join (a merge, a loop, or a node "
                f"with several incoming edges); this node has {degree[node_id]} incoming edge(s)", node=node_id))
    for raw in edges:
        branch = raw.get("branch")
        if not isinstance(branch, Mapping) or not branch:
            continue
        starts_branch = not _is_key(raw.get("sourceHandle"), rules.ROUTING_HANDLES) and fan_out.get(raw["source"], 0) > 1
        if starts_branch:
            continue
        why = ("it leaves a routing handle" if _is_key(raw.get("sourceHandle"), rules.ROUTING_HANDLES)
               else f"its source {raw['source']!r} has no other outgoing edge")
        policy_keys = [k for k in rules.BRANCH_POLICY_KEYS if k in branch]
        if policy_keys:
            err.append(issue(f"branch.{policy_keys[0]}: this edge does not start a branch ({why}); branch settings "
                              "apply to an edge of a fan-out — set it on the node instead", edge=raw["id"]))
        else:
            report.warnings.append(issue(f"branch.name: this edge does not start a branch ({why}); the name is unused",
                                          edge=raw["id"]))
    settings = definition.get("settings") or {}
    if not isinstance(settings, Mapping):
        return
    if isinstance(settings.get("parallel"), Mapping) and not joins and not loops:
        err.append(issue("settings.parallel: this workflow has no join (a node with several incoming edges) "
                          "and no loop for the parallel policy to govern"))
    handlers = settings.get("signalHandlers")
    if isinstance(handlers, Mapping):
        for name, handler in handlers.items():
            if not isinstance(handler, Mapping):
                continue
            action = handler.get("action")
            where = f"settings.signalHandlers.{name}"
            options = rules.HANDLER_OPTIONS.get(str(action), set())
            for key in ("cleanup", "rollback", "notify", "handler"):
                if key in handler and key not in options and _is_key(action, rules.HANDLER_OPTIONS):
                    owner = next(a for a, keys in rules.HANDLER_OPTIONS.items() if key in keys)
                    err.append(issue(f"{where}.{key}: applies only to action '{owner}', not '{action}'"))
            if action != "custom":
                continue
            target = handler.get("handler")
            if not isinstance(target, str) or not target:
                err.append(issue(f"{where}: action 'custom' needs 'handler' (the node id to run)"))
            elif target not in nodes:
                hint = rules.nearest(target, list(nodes))
                err.append(issue(f"{where}.handler: {target!r} is not a node"
                                  + (f" — did you mean '{hint}'?" if hint else "")))
            elif nodes[target].get("parentId") is not None:
                err.append(issue(f"{where}.handler: {target!r} sits inside a loop; a signal handler must be a "
                                  "top-level node", node=target))
            elif nodes[target].get("type") == "start":
                err.append(issue(f"{where}.handler: the start node cannot handle a signal", node=target))


def template_refs(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        for match in TEMPLATE_REF.finditer(value):
            yield match.group(1)
    elif isinstance(value, Mapping):
        for v in value.values():
            yield from template_refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from template_refs(v)


def template_warnings(
    definition: Mapping[str, Any], nodes: Mapping[str, Mapping[str, Any]], report: ValidationReport,
    containers: frozenset[str],
) -> None:
    item_variables = {
        (raw.get("config") or {}).get("itemVariable") or "item" for raw in nodes.values() if _is_key(raw.get("type"), containers)
    }
    output_variables = {
        (raw.get("config") or {}).get("outputVariable")
        for raw in nodes.values()
        if _is_key(raw.get("type"), containers) and (raw.get("config") or {}).get("outputVariable")
    }
    known = set(nodes) | BUILTIN_ROOTS | item_variables | output_variables
    for node_id, raw in nodes.items():
        for ref in template_refs(raw.get("config") or {}):
            root = re.split(r"[.\[]", ref, maxsplit=1)[0]
            if root not in known:
                report.warnings.append(issue(f"template {{{{{ref}}}}} cannot resolve: unknown name {root!r}", node=node_id))
