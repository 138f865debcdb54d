"""A radio on a device behind a driver library (PlutoSDR, SoapySDR): deadlines, guarded open, library errors.

:class:`DeviceRadio` is the base class of the hardware backends. It runs every call into the library
on one :class:`DeadlineWorker` thread, so that each call has a deadline (``config.timeout_s`` unless
the backend says otherwise) and a device that stops answering raises a :class:`RadioTimeout` naming
it and what to check instead of hanging. It opens the device once, in the constructor, and releases
it again when opening or setting it up fails; whatever the library raises comes out as a
:class:`RadioError` (``"<device> refused <what>: ..."``, ``"<device> could not be opened (...): <advice>"``).
Closing runs the backend's shut-down steps, logging (not raising) a step that fails, then releases
the device; a device that stopped answering is not called again.
"""

from __future__ import annotations

import concurrent.futures
import logging
import queue
import threading
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

from ota.radios.config import RadioConfig
from ota.radios.errors import RadioError, RadioTimeout
from ota.radios.radio import Radio

log = logging.getLogger(__name__)

GRACE_S = 0.1  # a device call's deadline exceeds the driver's own timeout by this much, so the driver reports first


class DeadlineWorker:
    """Runs one device's calls on a single daemon thread so that each call has a deadline.

    A call that does not return in time raises :class:`RadioTimeout` (``"<device> did not answer within
    T s (<what>): <hint>"``) and leaves the worker *hung*: the stuck call cannot be cancelled, so every
    later call fails at once with a :class:`RadioError` saying so. Exceptions raised by the call
    itself propagate unchanged.

    Args:
        device: the device as named in messages, e.g. ``"PlutoSDR at ip:192.168.2.1"``.
        hint: what to check when it does not answer.
    """

    def __init__(self, device: str, hint: str) -> None:
        self.device = device
        self.hint = hint
        self.hung: str | None = None
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name=f"radio worker: {device}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            function, args, future = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except BaseException as exc:  # handed to the caller's thread
                    future.set_exception(exc)

    def call(self, what: str, timeout_s: float, function: Callable, *args: Any) -> Any:
        """``function(*args)`` on the worker thread, waiting at most ``timeout_s`` seconds for it."""
        if self.hung is not None:
            raise RadioError(
                f"{self.device} stopped answering earlier ({self.hung}); close it and open it again ({self.hint})"
            )
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._jobs.put((function, args, future))
        try:
            return future.result(timeout=max(timeout_s, 0.0))
        except concurrent.futures.TimeoutError:
            if future.done():  # the call itself raised a TimeoutError (OSError ETIMEDOUT) or just finished
                return future.result()
            self.hung = f"{what} did not return within {timeout_s:.3g} s"
            raise RadioTimeout(
                f"{self.device} did not answer within {timeout_s:.3g} s ({what}): {self.hint}"
            ) from None

    def stop(self) -> None:
        """Let the thread end after the calls queued so far (a hung thread stays until its call returns)."""
        self._jobs.put(None)


class DeviceRadio(Radio):
    """A :class:`Radio` whose device is driven through a library, every call with a deadline.

    A backend's constructor checks what it can without the device, then calls :meth:`_open`. It
    implements :meth:`_shut_down` (what closing does before the release) and may override
    :meth:`_set_up` (what follows connecting; default: apply the settings), :meth:`_disconnect` (when
    its library must be told to let the device go) and :meth:`_library_error` (to translate more than
    the default). The device handle is ``self._device`` (None until connected and after release).
    """

    _device: Any = None
    _worker: DeadlineWorker

    def _open(self, what: str, connect: Callable[..., Any], *args: Any, hint: str, advice: str) -> None:
        """Start the worker, connect with ``connect(*args)`` (within ``timeout_s``) and :meth:`_set_up` the device.

        ``hint`` is what to check when the device does not answer. On any failure the device is released;
        a library error becomes ``RadioError("<device> could not be opened (<error>): <advice>")``.
        """
        self._worker = DeadlineWorker(self.name, hint)
        try:
            self._device = self._worker.call(what, self.config.timeout_s, connect, *args)
            self._set_up(self.config)
        except RadioError:
            self._release()
            raise
        except Exception as exc:
            self._release()
            raise RadioError(f"{self.name} could not be opened ({exc}): {advice}") from exc

    def _set_up(self, config: RadioConfig) -> None:
        """Make a newly connected device ready (default: apply the settings)."""
        self._apply(config)

    def _call(self, what: str, function: Callable[..., Any], *args: Any, timeout_s: float | None = None) -> Any:
        """``function(*args)`` on the worker within ``timeout_s`` (default ``config.timeout_s``); library
        errors become :class:`RadioError` (see :meth:`_library_error`)."""
        try:
            return self._worker.call(what, self.config.timeout_s if timeout_s is None else timeout_s, function, *args)
        except RadioError:
            raise
        except Exception as exc:
            raise self._library_error(what, exc) from exc

    def _library_error(self, what: str, exc: Exception) -> RadioError:
        """The :class:`RadioError` for an exception the library raised during ``what``."""
        return RadioError(f"{self.name} refused {what}: {exc}")

    def _quietly(self, step: Callable[[], None]) -> None:
        """Run a step of closing; a :class:`RadioError` is logged, not raised, so that the next step runs."""
        try:
            step()
        except RadioError as exc:
            log.warning("closing %s: %s", self.name, exc)

    def _close(self) -> None:
        self._shut_down()
        self._release()

    @abstractmethod
    def _shut_down(self) -> None:
        """Stop streaming and free the device's buffers (each step through :meth:`_quietly`)."""

    def _disconnect(self) -> None:
        """Tell the library to let the device go (default: nothing; dropping the handle frees it)."""

    def _release(self) -> None:
        """Disconnect (when the device still answers), drop the handle and end the worker."""
        if self._device is not None and self._worker.hung is None:
            self._quietly(self._disconnect)
        self._device = None
        self._worker.stop()
