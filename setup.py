"""Build hook for the optional C extension omnivoice_rtc.audio._fastaudio.

All metadata lives in pyproject.toml. The extension is the fast frame path of
omnivoice_rtc.audio.converter; when it cannot be compiled the install still succeeds and the
package uses its numpy path (same results), so a compiler error is reported, not fatal.
"""

from __future__ import annotations

import sys

from setuptools import Extension, setup  # type: ignore[import-untyped]  # reason: no stubs installed
from setuptools.command.build_ext import (  # type: ignore[import-untyped]  # reason: no stubs installed
    build_ext,
)


class OptionalBuildExt(build_ext):  # type: ignore[misc]  # reason: build_ext is untyped
    """build_ext that warns instead of failing when the C extension does not compile."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - reason: any build failure falls back to numpy
            print(
                f"warning: omnivoice_rtc C extension not built ({exc}); using numpy path",
                file=sys.stderr,
            )

    def build_extension(self, ext: Extension) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001 - reason: any build failure falls back to numpy
            print(f"warning: {ext.name} not built ({exc}); using numpy path", file=sys.stderr)


_UNIX_FLAGS = ["-O3", "-fopenmp-simd", "-fno-math-errno", "-std=c11"]

setup(
    ext_modules=[
        Extension(
            "omnivoice_rtc.audio._fastaudio",
            sources=["omnivoice_rtc/audio/_fastaudio.c"],
            extra_compile_args=[] if sys.platform == "win32" else _UNIX_FLAGS,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
