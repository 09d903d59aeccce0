"""Type stub for the optional C extension built from _fastaudio.c."""

class Stream:
    def __init__(
        self,
        *,
        in_kind: int,
        out_kind: int,
        up: int,
        down: int,
        taps: int,
        delay_out: int,
        flush_in: int,
        coeffs: bytes,
        dec_table: bytes,
        enc_table: bytes,
        in_name: str,
    ) -> None: ...
    def process(self, frame: object, /) -> bytes: ...
    def flush(self) -> bytes: ...
    def reset(self) -> None: ...
