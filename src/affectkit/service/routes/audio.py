"""Emotion from a recording (``/v1/audio``): speech and text, each branch's probabilities and their fusion."""

import asyncio
import uuid
from pathlib import Path, PureWindowsPath
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile

import affectkit.service.schemas as S
from affectkit.exceptions import InvalidInputError
from affectkit.service.deps import AppRuntime, Settings, secured
from affectkit.service.errors import ApiError, responses
from affectkit.service.guards import need_model, timed
from affectkit.service.uploads import save_upload

__all__ = ["AUDIO_SUFFIXES", "named_as_upload", "router", "upload_name"]

# FastAPI reads endpoint annotations at runtime, so this module does not postpone them.

#: File name ends kept on the stored recording (its decoder goes by them); others get ``.audio``.
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3")

router = APIRouter(tags=["analysis"], dependencies=secured)


def upload_name(filename: str | None) -> str:
    """The client's file name as a message may show it: its last path part, printable characters only,
    at most 100 of them; ``"the upload"`` when nothing is left."""
    name = PureWindowsPath(filename or "").name  # the last part, whether the client used / or a backslash
    name = "".join(c for c in name if c.isprintable())[:100].strip()
    return name if name.strip(".") else "the upload"


def named_as_upload(message: str, stored: Path, filename: str | None) -> str:
    """``message`` with the server's file ``stored`` (its path or its name) replaced by the upload's name."""
    shown = upload_name(filename)
    for form in (str(stored), stored.name):
        message = message.replace(form, shown)
    return message


@router.post("/v1/audio", response_model=S.AudioResponse, operation_id="audio",
             responses=responses(400, 401, 413, 422, 504))
async def audio(file: Annotated[UploadFile, File(description="An audio file (wav, flac, ogg, mp3).")],
                settings: Settings, runtime: AppRuntime,
                transcript: Annotated[str | None, Form(description="What is said (default: speech-to-text "
                                                                   "when the server has it).")] = None) -> Any:
    """Emotion from speech and text (7 classes): each branch's probabilities and their fusion.

    A file that is not readable audio, holds no sound, or holds less audio than its header says
    (truncated) gives 422 with the reason; a recording longer than the model's `max_duration`
    (ten minutes by default), 413.
    """
    model = need_model(runtime.models, "audio")
    if transcript is not None and len(transcript) > settings.max_chars:
        raise ApiError(413, "text_too_long", f"The transcript has {len(transcript)} characters; the limit is "
                                             f"{settings.max_chars}.")
    folder = Path(settings.jobs_dir) / ".audio"
    folder.mkdir(parents=True, exist_ok=True)
    suffix = next((s for s in AUDIO_SUFFIXES if (file.filename or "").lower().endswith(s)), ".audio")
    target = folder / f"{uuid.uuid4().hex}{suffix}"  # a name made here; removed when answered
    try:
        size, _ = await save_upload(file, target)
        if size == 0:
            raise ApiError(422, "empty_file", "The uploaded audio file is empty (0 bytes).")
        loop = asyncio.get_running_loop()
        result = await timed(loop.run_in_executor(runtime.audio_executor, lambda: model.analyze(target, transcript)),
                             settings.timeout_s)
    except InvalidInputError as exc:  # it names the stored file: name the client's upload instead
        raise type(exc)(named_as_upload(str(exc), target, file.filename)) from None  # 413 stays 413
    finally:
        target.unlink(missing_ok=True)
    return result.to_dict() | {"model": settings.audio}
