"""How the app ends and what it keeps: SIGTERM and SIGHUP, quitting, stopping the training process, nothing
acting on screens while they are torn down (keys, actions, workers' answers), and screenshots. A mixin of
MLPApp (tui/app.py)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from textual import events
from textual.widget import Widget

from tui.screens import ConfirmScreen


class Lifecycle:
    """Quit paths that save the run, whatever ends the app; screenshots for slides."""

    # ---- leaving: once quitting has begun, nothing acts on screens that are being torn down ----
    @property
    def leaving(self) -> bool:
        """True once quitting has begun (q, a signal, a confirmed dialog) or the app has stopped running."""
        return self._quitting or not self.is_running

    async def on_event(self, event: events.Event) -> None:
        """Keys and clicks reach nothing while the app is leaving: q then o, typed within a second, opened a
        view on a quitting app, which crashed on its missing table."""
        if isinstance(event, events.InputEvent) and self.leaving:
            return
        await super().on_event(event)

    async def run_action(self, action: Any, default_namespace: Any = None, namespaces: Any = None) -> bool:
        """Every action, however it comes (a key, the palette, a click, a view's binding), is refused while the
        app is leaving."""
        if self.leaving:
            return False
        return await super().run_action(action, default_namespace, namespaces)

    def call_from_thread(self, callback: Any, *args: Any, **kwargs: Any) -> Any:
        """A worker's result is dropped (None) when the app is leaving or the screen or widget it is for has
        gone: a view closed while its thread read the disk must not be drawn into."""
        if self.leaving:
            return None  # (the loop may stop before it would run the callback: the worker would wait forever)

        def if_alive() -> Any:
            target = getattr(callback, "__self__", None)
            gone = isinstance(target, Widget) and not (target.is_attached and target.is_running)
            return None if self.leaving or gone else callback(*args, **kwargs)

        return super().call_from_thread(if_alive)

    def _catch_signals(self) -> None:
        """SIGTERM and SIGHUP (a closed terminal, an SSH drop) quit as q does: the run is saved and the terminal
        put back. Only in the main thread of a real run (Pilot tests run the app elsewhere)."""
        import asyncio
        import threading

        from core.signals import on_event_loop

        if threading.current_thread() is not threading.main_thread():
            return
        on_event_loop(asyncio.get_running_loop(), self._on_stop_signal, ("SIGTERM", "SIGHUP"))
        if self.is_web:  # under `mlp-tui serve`: a server killed (kill -9) leaves nobody to quit us
            import os

            self._server_pid = os.getppid()
            self.set_interval(1.0, self._check_server)

    def _check_server(self) -> None:
        """The server that started this app has gone (it was our parent): save the run and end, as SIGHUP does."""
        import os

        if os.getppid() != self._server_pid:
            self._on_stop_signal("SIGHUP")

    def _on_stop_signal(self, name: str) -> None:
        import os

        self.shutdown()  # the training process saves the run and stops (killed after 0.8 s)
        if name == "SIGHUP":
            # The terminal is gone: nothing is left to restore, and Textual's writer thread can wedge on a
            # dead terminal (seen after tmux kill-session), so leave now. The run is saved above.
            os._exit(0)
        self.exit()  # puts the terminal back

    def deliver_screenshot(self, filename: str | None = None, path: str | None = None,
                           time_format: str | None = None) -> str | None:
        """An SVG of the screen (g, or the palette's Screenshot): into the run folder, or the current folder when
        the run is not being saved; under `mlp-tui serve`, to the browser as a download."""
        import io

        from core.errors import MLPTuiError
        from core.runs.files import output_file

        name = filename or f"mlp-tui-{time.strftime('%Y%m%d-%H%M%S')}.svg"
        svg = self.export_screenshot()
        if self.is_web:
            return self.deliver_text(io.StringIO(svg), save_filename=name, open_method="download",
                                     mime_type="image/svg+xml", name="screenshot")
        target = Path(path or self.run_path or Path.cwd()) / name
        try:
            with output_file(target) as f:
                f.write(svg)
        except (OSError, MLPTuiError) as e:
            self.notify(f"cannot save the screenshot to {target}: {getattr(e, 'strerror', None) or e}",
                        severity="error")
            return None
        self.notify(f"screenshot saved to {target}", title="screenshot", timeout=6)
        return str(target)

    async def action_quit(self) -> None:
        trained = self.snapshot["step"] if self.snapshot else 0
        if self.screen.id == "quit-question":  # ctrl+c again while it is asked: one question is enough
            return
        if self.run_path is None and trained > 0 and self.proc is not None:
            def answer(yes: bool | None) -> None:
                if yes:
                    self.shutdown()
                    self.exit()

            self.push_screen(ConfirmScreen(f"This run ({trained:,} steps) could not be saved to the runs folder. "
                                           f"Quit and lose it?", id="quit-question"), answer)
            return
        self.shutdown()
        self.exit()

    def shutdown(self) -> None:
        """Stop the training process (it saves the run and quits within ~0.1 s; killed after 0.8 s)."""
        self._quitting = True
        if self.proc is not None:
            t = time.monotonic()
            self.proc.close()
            self.log(f"trainer stopped in {time.monotonic() - t:.2f}s")
            self.proc = None

    def on_unmount(self) -> None:
        self.shutdown()
