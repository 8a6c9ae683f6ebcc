"""The `engine` Django app: executions, node runs, events, dead letters; its start-up loads every node type."""

from django.apps import AppConfig


class EngineConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "engine"
    verbose_name = "Engine"

    def ready(self) -> None:
        # Register every node type at start-up: a node module that fails to import stops the
        # server, the engine and every management command here (engine.nodes.NodeModuleError),
        # instead of surfacing later as an "unknown node type" in a saved workflow.
        import engine.nodes  # noqa: F401
