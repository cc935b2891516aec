"""SpinCore PulseBlaster (ESR-PRO and relatives), through the ``spinapi`` package.

Instruction set (SpinCore PulseBlaster / PulseBlasterESR-PRO manuals, "Instruction Set
Architecture"; SpinAPI ``pb_inst_pbonly``): every instruction is an 80-bit word — 24 output
flags, a 20-bit data field, a 4-bit op code, a 32-bit delay count — and runs at least 5 clock
cycles (internal-memory models; 2 ns at 500 MHz gives 10 ns) and at most 2³² cycles.  Op codes:
CONTINUE (0), STOP (1), LOOP (2, data = number of passes, ≥ 1), END_LOOP (3, data = address of
its LOOP), JSR, RTS, BRANCH (6, data = address), LONG_DELAY, WAIT.  The LOOP and END_LOOP
instructions carry outputs and a delay of their own and belong to the loop body, so a loop
body is at least two instructions.  The 20-bit data field bounds a loop counter at
2²⁰ − 1 = 1 048 575; loops nest (this driver allows ``max_loop_depth`` levels, 8 by
default, as SpinCore documents for its boards).  The ESR-PRO has 4096 instruction words; its
flag bits 21–23 select the short-pulse feature and must read 111 ("ON") for normal outputs.

Compilation: a pass is the shots of every sweep point; each repeat becomes a LOOP/END_LOOP pair
(a one-block body is split into two halves); blocks longer than 2³² cycles become several
instructions.  :meth:`PulseBlaster.start` wraps the pass in an outer LOOP for a finite number
of passes (or a BRANCH back to the start to play until stopped), followed by an all-low
instruction and STOP.  Programming: ``pb_start_programming(PULSE_PROGRAM)``,
``pb_inst_pbonly(flags, op, data, length_ns)`` per instruction, ``pb_stop_programming()``,
then ``pb_reset()`` and ``pb_start()``.

Tests inject a double of the ``spinapi`` module (``spinapi=``).  Install the package with
``pip install 'nvsense[spinapi]'`` (the SpinCore driver library is needed for real boards).
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, ClassVar

from ...pulses import PulseProgram, PulserLimits
from ...pulses.program import ResolvedBlock, ResolvedRepeat
from ...units import parse_quantity
from ..errors import InstrumentError
from ..pulser import ChannelMap, CompiledProgram, PulserBase, PulserLimitError, _dc_state

__all__ = ["DEFAULT_CHANNELS", "OPCODES", "Instruction", "PulseBlaster"]

#: Op codes of the PulseBlaster instruction set.
OPCODES = {"CONTINUE": 0, "STOP": 1, "LOOP": 2, "END_LOOP": 3, "JSR": 4, "RTS": 5,
           "BRANCH": 6, "LONG_DELAY": 7, "WAIT": 8}
#: Largest value of the 20-bit data field (a loop counter).
MAX_DATA = 2**20 - 1
#: Longest delay count of one instruction, cycles.
MAX_CYCLES = 2**32 - 1

#: Default wiring: laser/AOM on flag 0, MW switch on 1, counter gate on 2, trigger on 3; MW
#: phase lines (an external IQ switch) on 4 (0°), 5 (90°), 6 (180°), 7 (270°).
DEFAULT_CHANNELS = ChannelMap(
    {"laser": 0, "mw": 1, "gate": 2, "trigger": 3, "spare4": 4, "spare5": 5, "spare6": 6,
     "spare7": 7},
    phase_lines={0.0: "spare4", 90.0: "spare5", 180.0: "spare6", 270.0: "spare7"})


@dataclass
class Instruction:
    """One PulseBlaster instruction (``data`` of LOOP is the count; of END_LOOP / BRANCH the
    address it jumps to)."""

    flags: int
    op: str
    data: int
    length_ns: int
    name: str = ""

    def to_list(self) -> list[Any]:
        return [self.flags, self.op, self.data, self.length_ns, self.name]


class PulseBlaster(PulserBase):
    """SpinCore PulseBlaster.

    Parameters
    ----------
    name
        Bench key.
    board
        Board number (``pb_select_board``).
    clock
        Core clock (``"500 MHz"`` for an ESR-PRO 500).
    channels
        Channel map (:meth:`ChannelMap.from_config`); default :data:`DEFAULT_CHANNELS`.
    memory
        Instruction words (4096 for an ESR-PRO).
    min_cycles
        Shortest instruction in clock cycles (5).
    max_loop_depth
        Deepest loop nesting allowed (8).
    on_bits
        Flag bits set in every instruction with outputs on (0xE00000: the ESR-PRO's
        short-pulse bits at "ON"; 0 for boards without them).
    spinapi
        The ``spinapi`` module or a double (default: imported).
    """

    model: ClassVar[str] = "PulseBlaster"

    def __init__(self, name: str = "pulser", *, board: int = 0, clock: Any = "500 MHz",
                 channels: Mapping[str, Any] | ChannelMap | None = None, memory: int = 4096,
                 min_cycles: int = 5, max_loop_depth: int = 8, on_bits: int = 0xE00000,
                 spinapi: Any = None, model: str = "PulseBlaster ESR-PRO") -> None:
        super().__init__(name, ChannelMap.from_config(channels, DEFAULT_CHANNELS))
        self.board = int(board)
        self.clock_hz = parse_quantity(clock, "Hz", name=f"instruments.{name}.clock")
        if not self.clock_hz > 0:
            raise ValueError(f"instruments.{name}.clock must be > 0")
        period = Fraction(10**9) / Fraction(round(self.clock_hz))  # ns per cycle
        #: smallest whole number of ns that is a whole number of cycles
        self._resolution_ns = period.numerator
        min_ns = math.ceil(int(min_cycles) * period / self._resolution_ns) * self._resolution_ns
        self._limits = PulserLimits(
            device=f"{model} {self.clock_hz / 1e6:g} MHz", resolution_ns=self._resolution_ns,
            min_duration_ns=min_ns, max_steps=int(memory), hardware_loops=True,
            max_loop_count=MAX_DATA, max_loop_depth=int(max_loop_depth),
            max_repetitions=MAX_DATA, digital_channels=21 if on_bits else 24,
            analog_channels=0)
        self._period = period
        self.on_bits = int(on_bits)
        self._spinapi = spinapi
        self._api: Any = None
        self._pending: CompiledProgram | None = None

    @property
    def limits(self) -> PulserLimits:
        return self._limits

    # --- connection ------------------------------------------------------------------------

    def _load_api(self) -> Any:
        if self._spinapi is not None:
            return self._spinapi
        try:
            return importlib.import_module("spinapi")
        except ImportError as exc:
            raise InstrumentError(self.name, "import spinapi", "the spinapi package is not "
                                  "installed; install it with pip install 'nvsense[spinapi]'"
                                  ) from exc

    def _call(self, command: str, *args: Any) -> Any:
        try:
            return getattr(self._api, command)(*args)
        except Exception as exc:
            raise InstrumentError(self.name, f"{command}{args!r}",
                                  f"{type(exc).__name__}: {exc}") from exc

    def connect(self) -> None:
        """Select and initialise the board, set its clock, and program all outputs low."""
        self._api = self._load_api()
        count = self._call("pb_count_boards")
        if count is not None and count <= self.board:
            raise InstrumentError(self.name, "pb_count_boards",
                                  f"board {self.board} not found ({count} board(s) present)")
        self._call("pb_select_board", self.board)
        self._call("pb_init")
        self._call("pb_core_clock", self.clock_hz / 1e6)
        self.connected = True
        self._outputs_low()

    def close(self) -> None:
        if self.connected and self._api is not None:
            try:
                self._api.pb_close()
            except Exception:  # closing is best effort
                pass
        self.connected = False

    @property
    def identity(self) -> str:
        self._require("identity")
        version = self._call("pb_get_version")
        if isinstance(version, bytes):
            version = version.decode(errors="replace")
        firmware = self._call("pb_get_firmware_id")
        return f"SpinCore,{self._limits.device},board {self.board},spinapi {version}," \
               f"firmware {firmware}"

    # --- compilation -----------------------------------------------------------------------

    def _flags(self, block: ResolvedBlock) -> int:
        lines, _ = _dc_state(block, self.channel_map, self._limits.device)
        flags = 0
        for logical in lines:
            flags |= 1 << self.channel_map.digital[logical]
        return flags | self.on_bits if flags else flags

    def _block_instructions(self, block: ResolvedBlock) -> list[Instruction]:
        """A block as CONTINUE instructions (several if longer than 2³² cycles)."""
        flags = self._flags(block)
        cycles = block.duration_ns * self._period.denominator // self._period.numerator
        if cycles <= MAX_CYCLES:
            return [Instruction(flags, "CONTINUE", 0, block.duration_ns, block.name)]
        pieces = -(-cycles // MAX_CYCLES)
        step = self._resolution_ns
        units = block.duration_ns // step
        out = []
        for k in range(pieces):
            n = units // pieces + (1 if k < units % pieces else 0)
            out.append(Instruction(flags, "CONTINUE", 0, n * step, f"{block.name}[{k}]"))
        return out

    def _split(self, ins: Instruction, repeat: str) -> list[Instruction]:
        """A one-instruction loop body as two halves (LOOP and END_LOOP both need one)."""
        step = self._resolution_ns
        units = ins.length_ns // step
        first = (units // 2) * step
        second = ins.length_ns - first
        if first < self._limits.min_duration_ns or second < self._limits.min_duration_ns:
            raise PulserLimitError(
                f"{self._limits.device} cannot loop repeat {repeat!r}: its body is one block "
                f"({ins.name!r}, {ins.length_ns} ns) too short to split into the two "
                f"instructions a loop needs; lengthen it to at least "
                f"{2 * self._limits.min_duration_ns} ns or add a block (nothing was sent)",
                block=repeat, device=self._limits.device, limit="min_duration")
        return [Instruction(ins.flags, ins.op, ins.data, first, ins.name),
                Instruction(ins.flags, ins.op, ins.data, second, ins.name)]

    def _emit(self, elements: Sequence[ResolvedBlock | ResolvedRepeat]) -> list[Instruction]:
        out: list[Instruction] = []
        for el in elements:
            if isinstance(el, ResolvedRepeat):
                body = self._emit(el.body)
                if not body:
                    continue
                if el.count == 1:
                    out.extend(body)
                    continue
                if len(body) == 1:
                    body = self._split(body[0], el.name)
                if body[0].op != "CONTINUE" or body[-1].op != "CONTINUE":
                    inner = "starts" if body[0].op != "CONTINUE" else "ends"
                    raise PulserLimitError(
                        f"{self._limits.device} cannot loop repeat {el.name!r}: its body "
                        f"{inner} with a nested repeat, and LOOP/END_LOOP must be instructions "
                        f"of their own; add a block before/after the nested repeat (nothing was "
                        f"sent)", block=el.name, device=self._limits.device, limit="loop_depth")
                body[0] = Instruction(body[0].flags, "LOOP", el.count, body[0].length_ns,
                                      body[0].name)
                body[-1] = Instruction(body[-1].flags, "END_LOOP", -1, body[-1].length_ns,
                                       body[-1].name)  # address fixed in _addresses
                out.extend(body)
            elif el.duration_ns > 0:
                out.extend(self._block_instructions(el))
        return out

    def _pass(self, program: PulseProgram) -> list[Instruction]:
        out: list[Instruction] = []
        for point in program.play_order:
            out.extend(self._emit(program.resolve(point)))
        return out

    @staticmethod
    def _addresses(instructions: list[Instruction]) -> None:
        """Point every END_LOOP at its LOOP (matching them as brackets)."""
        stack: list[int] = []
        for addr, ins in enumerate(instructions):
            if ins.op == "LOOP":
                stack.append(addr)
            elif ins.op == "END_LOOP":
                ins.data = stack.pop()

    def compile(self, program: PulseProgram, repetitions: int | None = None) -> CompiledProgram:
        """The instruction list: the pass, wrapped to play ``repetitions`` passes (or forever
        with ``None``), then all outputs low and STOP."""
        body = self._pass(program)
        if not body:
            raise PulserLimitError(f"{self._limits.device}: the program has no block longer "
                                   f"than 0 ns", device=self._limits.device, limit="min_duration")
        if repetitions is None:
            if body[-1].op != "CONTINUE":
                raise PulserLimitError(
                    f"{self._limits.device}: the program must not end with a repeat (the last "
                    f"instruction branches back to the start)", device=self._limits.device,
                    limit="loop_depth")
            body[-1] = Instruction(body[-1].flags, "BRANCH", 0, body[-1].length_ns,
                                   body[-1].name)
            tail: list[Instruction] = []
        else:
            if repetitions > 1:
                if len(body) == 1:
                    body = self._split(body[0], "passes")
                if body[0].op != "CONTINUE" or body[-1].op != "CONTINUE":
                    raise PulserLimitError(
                        f"{self._limits.device}: the program must start and end with a block "
                        f"(not a repeat) to loop over passes", device=self._limits.device,
                        limit="loop_depth")
                body[0] = Instruction(body[0].flags, "LOOP", int(repetitions),
                                      body[0].length_ns, body[0].name)
                body[-1] = Instruction(body[-1].flags, "END_LOOP", -1, body[-1].length_ns,
                                       body[-1].name)
            low = self._limits.min_duration_ns
            tail = [Instruction(0, "CONTINUE", 0, low, "outputs_low"),
                    Instruction(0, "STOP", 0, low, "stop")]
        instructions = body + tail
        self._addresses(instructions)
        # steps: what the finite form needs (the pass, the low instruction and STOP)
        steps = len(body) + 2
        if steps > self._limits.max_steps:
            raise PulserLimitError(
                f"{self._limits.device} cannot hold the program: it needs {steps} "
                f"instructions, more than its memory of {self._limits.max_steps}; use fewer sweep "
                f"points "
                f"(nothing was sent)", device=self._limits.device, limit="memory")
        return CompiledProgram(self._limits.device, "pulseblaster_instructions",
                               [ins.to_list() for ins in instructions],
                               program.pass_duration_ns, program.windows_per_pass,
                               steps, self.channel_map, program, repetitions)

    # --- device actions --------------------------------------------------------------------

    def _program(self, compiled: CompiledProgram) -> None:
        api = self._api
        self._call("pb_start_programming", getattr(api, "PULSE_PROGRAM", 0))
        for flags, op, data, length_ns, _ in compiled.data:
            self._call("pb_inst_pbonly", int(flags), OPCODES[op], int(data), float(length_ns))
        self._call("pb_stop_programming")

    def _send(self, compiled: CompiledProgram) -> None:
        # programmed with the pass count at start(); here the board is only stopped
        self._call("pb_stop")

    def _prepare_start(self, repetitions: int | None, trigger: str) -> None:
        if trigger != "software":
            raise InstrumentError(self.name, "start", "this driver starts PulseBlaster programs "
                                  "by software only (a hardware trigger needs a WAIT "
                                  "instruction, not built here)")
        self._pending = self.compile(self._compiled.program,  # type: ignore[union-attr]
                                     repetitions)

    def _start(self, repetitions: int | None, trigger: str) -> None:
        compiled = self._pending
        self._program(compiled)
        self._call("pb_reset")
        self._call("pb_start")
        self._compiled = compiled

    def _stop(self) -> None:
        if self._api is not None:
            self._call("pb_stop")

    def _outputs_low(self) -> None:
        """Program and run two all-low instructions ending in STOP."""
        if self._api is None:
            return
        low = float(self._limits.min_duration_ns * 10)
        api = self._api
        self._call("pb_stop")
        self._call("pb_start_programming", getattr(api, "PULSE_PROGRAM", 0))
        self._call("pb_inst_pbonly", 0, OPCODES["CONTINUE"], 0, low)
        self._call("pb_inst_pbonly", 0, OPCODES["STOP"], 0, low)
        self._call("pb_stop_programming")
        self._call("pb_reset")
        self._call("pb_start")

    @property
    def running(self) -> bool:
        if not self.connected or not self._running:
            return False
        status = self._call("pb_read_status")
        return bool(status.get("running", False)) if isinstance(status, dict) else True
