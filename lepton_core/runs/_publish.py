"""Publishing a model version for its demo page, with who did it in the audit log."""

from __future__ import annotations

from lepton_core.workspace import AuditLog, ModelVersionInfo, Workspace

__all__ = ["publish"]


def publish(
    workspace: Workspace, name: str, version: int, published: bool = True, *, actor: str = ""
) -> ModelVersionInfo:
    """Publish (or, with ``published=False``, withdraw) a model version.

    Recorded in the audit log as ``model.published`` or ``model.withdrawn`` by
    ``actor`` (empty: the local owner).

    Raises
    ------
    ModelError
        There is no such model version.
    """
    info = workspace.set_published(name, version, published)
    action = "model.published" if published else "model.withdrawn"
    AuditLog(workspace).record(actor, action, info.ref)
    return info
