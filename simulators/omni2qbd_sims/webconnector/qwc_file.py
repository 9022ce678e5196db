"""What the Web Connector takes from a .qwc file when a person adds the application."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from omni2qbd_shared.xmlsafe import parse_xml


class QwcFileError(ValueError):
    pass


@dataclass(frozen=True)
class QwcFile:
    app_url: str
    username: str
    owner_id: str
    file_id: str


def read_qwc(path: Path) -> QwcFile:
    try:
        root = parse_xml(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise QwcFileError(f"cannot read the .qwc file {path}: {exc}") from exc
    values = {
        name: (root.findtext(name) or "").strip()
        for name in ("AppURL", "UserName", "OwnerID", "FileID")
    }
    missing = [name for name, value in values.items() if not value]
    if missing:
        raise QwcFileError(f"the .qwc file {path} has no {', '.join(missing)}")
    return QwcFile(values["AppURL"], values["UserName"], values["OwnerID"], values["FileID"])
