"""Operator traces: which aten operators a student function ran, with their shapes, and whether
its results were computed by torch from its inputs.

``TorchDispatchMode`` sees every operator after Python-level dispatch, so ``@``, ``matmul``,
``mm``, ``addmm``, ``einsum`` and ``F.linear`` all show up as the same few matrix-product
operators; the contraction size K tells the fused product (K = d + h) from the separate ones.
Every call the judge makes is traced (the reference's timed calls too), so a function cannot
tell a traced call from any other. Only operators on the call's own device are recorded (a
product on ``meta`` tensors during a CPU call computes nothing).

*Derived* data: the call's inputs are derived; an operator's outputs are derived when all the
tensors it reads are (constants such as ``zeros`` and small Python scalars are too). Memory from
``empty`` and data from outside torch (``torch.from_numpy``, ``torch.tensor(array)``) are not,
and writing into memory keeps track of what was written. A result that is not derived was
computed outside the trace: in numpy, in another thread (dispatch modes are per thread), or in
another process, or by a kernel the notebook registered for a torch operator (its dispatch table,
read at every dispatch of a product and at any other operator's first dispatch on the call's
device and at the end, differs from the one the runner read before the notebook ran below the
trace's key: :func:`remember_kernels`); so was one whose bytes changed after the last traced operator wrote them
(``t.numpy()[...] = ...`` writes without any operator: each traced write samples bytes of the
storage at random offsets, compared when it is read again and at the end). The runner only records; the judge reads the record
(:mod:`autograder.judge.fused`, :mod:`autograder.judge.checks`).
"""

import os
import time

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from ..operators import BIASED_OPS, MATMUL_OPS, VIEW_OPS, contraction_size

#: operators recorded at most; a longer trace says so
MAX_OPS = 1000

#: operators that hand out memory without computing anything in it
ALLOCATIONS = {"empty", "empty_like", "empty_strided", "empty_permuted", "new_empty", "new_empty_strided",
               "resize_", "resize_as_", "_resize_output_", "set_", "from_file"}
#: operators that wrap data made outside torch; derived only for a single number (a constant)
LIFTS = {"lift", "lift_fresh", "lift_fresh_copy"}
#: bytes of a storage sampled at every traced write and compared at every read and at the end
SAMPLED_BYTES = 256
#: a storage no larger than this is kept whole instead (one copy costs less than drawing offsets)
WHOLE_BYTES = 4096
#: in-place operators whose first argument's old contents are not read
OVERWRITES = {"copy_", "fill_", "zero_", "normal_", "uniform_", "random_"}
#: operators whose output holds none of the data they read (only its shape, dtype and device)
FRESH = ALLOCATIONS | {"zeros_like", "ones_like", "full_like", "new_zeros", "new_ones", "new_full", "rand_like",
                       "randn_like", "randint_like"}


def _tensors(value) -> list:
    """The tensors in ``value`` (a tensor, or tuples and lists of them at any depth), in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    found = []
    if isinstance(value, (tuple, list)):
        for v in value:
            if isinstance(v, torch.Tensor):
                found.append(v)
            elif isinstance(v, (tuple, list)):
                found += _tensors(v)
    return found


def _key(t):
    return None if t.is_meta else t.untyped_storage().data_ptr()


_DRAWS = {}


def _draws(func) -> bool:
    """Whether the operator draws random numbers (takes a generator); read once per operator."""
    draws = _DRAWS.get(func)
    if draws is None:
        draws = _DRAWS[func] = any(argument.name == "generator" for argument in func._schema.arguments)
    return draws


#: every operator's dispatch table (which kernels, registered where) before the notebook ran
_TABLES_AT_START = {}
#: dispatch keys served before the Python key, which the trace's dispatch mode is: a kernel there
#: runs before the trace and all it computes passes through the trace as operators of its own
#: (functorch registers batching kernels for aten operators lazily, at vmap's first use). A new
#: kernel at any other key (the backends, BackendSelect, the Composite aliases, a new operator's
#: definition) runs below the trace, unseen: it is the notebook's, wherever it says it was
#: registered from (a Python caller's file name proves nothing: red team, round 19)
_BEFORE_THE_TRACE = ("Autograd", "Autocast", "FuncTorch", "Functionalize", "ADInplaceOrView", "Conjugate",
                     "Negative", "ZeroTensor", "Named", "Tracer", "PreDispatch", "PythonDispatcher",
                     "PythonTLSSnapshot", "Batched", "VmapMode")


def remember_kernels() -> None:
    """Read every operator's dispatch table, once per process, before any notebook code runs (the
    runner and the zygote call it first; 0.1 s)."""
    if not _TABLES_AT_START:
        _TABLES_AT_START.update((name, torch._C._dispatch_dump(name)) for name in torch._C._dispatch_get_all_op_names())


def _kernels(table: str) -> set:
    """The active kernels in a dispatch table, one line each (for which key, registered where)."""
    return {line for line in table.splitlines() if "registered at " in line and "(inactive)" not in line}


def _own_kernel(func) -> bool:
    """Whether operator ``func`` now runs a kernel the notebook registered (``torch.library``, a
    custom op, a C++ extension) below the trace: a kernel that was not there when the runner
    started, at a key served after the trace's (``_BEFORE_THE_TRACE``)."""
    name = func.name()
    table, before = torch._C._dispatch_dump(name), _TABLES_AT_START.get(name, "")
    return table != before and any(not line.split(":", 1)[0].startswith(_BEFORE_THE_TRACE)
                                   for line in _kernels(table) - _kernels(before))


def _whole(t) -> bool:
    """Whether ``t`` views all of its storage, each byte once, in order."""
    return t.numel() * t.element_size() == t.untyped_storage().nbytes() and t.is_contiguous() and t.storage_offset() == 0


def _distinct(t) -> bool:
    """Whether no two elements of the view ``t`` share memory, from its sizes and strides alone:
    taken by increasing stride, each dimension must step past all that the smaller ones span."""
    span = 0  # the largest offset the dimensions taken so far reach
    for stride, size in sorted((st, sz) for sz, st in zip(t.shape, t.stride()) if sz > 1):
        if stride <= span:
            return False
        span += stride * (size - 1)
    return True


class OpTrace(TorchDispatchMode):
    """Records ``[op name, output shape or None, contraction size or None]`` per operator on
    ``device``, and which storages hold derived data."""

    def __init__(self, device: str = "cpu", inputs=(), sides=()):
        super().__init__()
        self.device = device
        self.ops, self.count = [], 0
        self.derived = {_key(t) for t in inputs} - {None}
        self.samples = {}  # storage -> (byte offsets or None for all, bytes, storage size) the last traced write left
        # storage -> [its elements covered by derived writes, how many are not], while not all of it is derived
        self.coverage = {}
        self.generator = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
        # storage -> (the inputs its product's two operands were computed from), for storages that
        # hold a matrix product's output (or what only relabels, copies or scales it)
        self.products = {}
        # storage -> the indexes of the call's inputs its data was computed from (through traced operators)
        self.inputs_of = {key: frozenset((i,)) for i, t in enumerate(inputs) if (key := _key(t)) is not None}
        # storage -> which of the product's two sides its data came from (``sides``: the indexes of
        # the call's inputs on each, the activations and the weights); a product of the two sides
        # hands out data of neither, and any other operator that brings the two together did the
        # product's work beside it: its name is kept in ``mixed`` (red team, rounds 14 and 23)
        self.sides = {}
        for side, indexes in enumerate(sides):
            for i in indexes:
                if i < len(inputs) and isinstance(inputs[i], torch.Tensor) and (key := _key(inputs[i])) is not None:
                    self.sides[key] = self.sides.get(key, frozenset()) | {side}
        self.mixed = []
        remember_kernels()  # where the runner has not already (a trace outside a runner: tests, benchmarks)
        self.kernels = {}  # operator -> whether it ran a kernel of the notebook's own (read on the call's device)
        self.own_kernels = []  # the names of those operators, at their first dispatch and at the end
        self.overhead = 0.0  # seconds the trace's own bookkeeping took (not the operators')
        for t in inputs:  # an input rewritten behind torch's back, and read, then restored, still shows
            if isinstance(t, torch.Tensor) and (key := _key(t)) is not None:
                self.samples[key] = self._sample(t)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        started = time.perf_counter()  # what the trace itself costs is the grader's time (self.overhead)
        kwargs = kwargs or {}
        name = func.overloadpacket.__name__
        arg_tensors = _tensors(args)
        read = ((_tensors(args[1:]) if name in OVERWRITES else arg_tensors)
                + _tensors([v for k, v in kwargs.items() if k != "out"]))
        # before the operator changes anything; a view's, only if it copied after all (reshape)
        relabels = name in VIEW_OPS
        reads_derived = None if relabels else all(self._intact(t) for t in read)
        targets = _tensors(kwargs.get("out"))
        in_place = name.endswith("_")
        if in_place and args and isinstance(args[0], torch.Tensor):
            targets.append(args[0])
        # derived memory changed behind torch's back since its last traced write: a partial write
        # into it must not make the foreign bytes count as derived (an empty write once did)
        tampered = self._tampered(targets)
        ran = time.perf_counter()
        out = func(*args, **kwargs)
        ran = time.perf_counter() - ran
        out_tensors = _tensors(out)
        on_device = not out_tensors or any(t.device.type == self.device for t in out_tensors)
        k = contraction_size(name, args)
        # an operator's table is read at its first dispatch on the call's device (a dispatch on
        # another device, meta, decides nothing for later: red team, round 19), a product's at every
        # dispatch, and every operator's again when the call ends (__exit__)
        own = self.kernels.get(func)
        if own is None or k is not None:
            own = bool(own) or _own_kernel(func)
            if on_device:
                self.kernels[func] = own
            if own:
                self._own(name)
        if types:  # a tensor subclass's own __torch_dispatch__ ran the operator, below the trace
            own = True  # (red team, round 20: numpy did the product inside a subclass of the activations)
            self._own(f"{name} on {types[0].__name__}"[:200])
        inputs = {_key(t) for t in arg_tensors}
        written = [t for t in out_tensors  # a view writes nothing; a lift wraps data it did not make
                   if in_place or name in LIFTS or _key(t) not in inputs] + targets
        if own:  # what a kernel of the notebook's own does is not torch's computation
            derived = False
        elif name in ALLOCATIONS:
            derived = False
            # what it hands out may be memory changed behind torch's back (set_ onto such a storage)
            tampered |= self._tampered(written)
        elif _draws(func):  # a generator's state can be set to anything from outside torch
            derived = False
        elif name in LIFTS:
            derived = all(t.numel() <= 1 for t in out_tensors)
        elif relabels:
            derived = bool(written) and all(self._intact(t) for t in read)
        else:
            derived = reads_derived
        # a product's output, or an operator that reads a product's output and otherwise only other
        # products' outputs and scalars (a copy, a cast, a scaling by a number), leaves products'
        # outputs; anything else does not. A one-element product (n = h = 1) is read as a product,
        # not as a scalar: its scaling by a number once lost the product (a false failure of fused)
        k = None if own else k
        operands = None
        if k is not None:  # a product, unless it adds work of its own or multiplies the product by 0
            made_by_product = kwargs.get("alpha", 1) != 0 and (
                name not in BIASED_OPS or kwargs.get("beta", 1) == 0 or self._adds_nothing(args[0]))
            first = MATMUL_OPS[name]
            operands = tuple(self._inputs_of(t) for t in args[first:first + 2])
        else:
            made_by_product = (any(_key(t) in self.products for t in read)
                               and all(_key(t) in self.products for t in read if t.numel() > 1))
            operands = next((self.products[key] for t in read if (key := _key(t)) in self.products), None)
        depends = frozenset().union(*(self._inputs_of(t) for t in read))
        sides = self._sides(name, k, read, arg_tensors, written, in_place, targets)
        into = {id(t) for t in targets}
        for t in written:
            key = _key(t)
            if key is not None:
                self.sides[key] = sides
                self._wrote(key, t, derived, key in tampered)
                if made_by_product and _whole(t):  # a product that wrote only part of a storage does not
                    self.products[key] = operands   # make the rest its output (red team, round 22)
                else:
                    self.products.pop(key, None)
                # a write into memory that holds data keeps what that data came from (a buffer
                # filled slice by slice); an operator's fresh output comes from what it read
                kept = self.inputs_of.get(key, frozenset()) if (in_place or id(t) in into) else frozenset()
                self.inputs_of[key] = depends | kept
        if on_device:
            self.count += 1
            if len(self.ops) < MAX_OPS:
                shape = [int(n) for n in out.shape] if hasattr(out, "shape") else None
                self.ops.append([name, shape, k])
        self.overhead += time.perf_counter() - started - ran
        return out

    def _sides(self, name, k, read, arg_tensors, written, in_place, targets) -> frozenset:
        """The sides the data an operator writes came from; an operator that is not a product and
        brings both sides together (from two tensors, or into memory that holds the other side) is
        kept in :attr:`mixed`."""
        if name in FRESH:
            return frozenset()
        if name in VIEW_OPS:  # relabels its first argument (``view_as(other)`` reads only a shape)
            return self._sides_of(arg_tensors[0]) if arg_tensors else frozenset()
        reads = [self._sides_of(t) for t in read]
        into = {id(t) for t in targets}
        reads += [self.sides.get(_key(t), frozenset()) for t in written
                  if (in_place or id(t) in into) and not (name in OVERWRITES and _whole(t))]
        joined = frozenset().union(*reads)
        if len(joined) < 2:
            return joined
        if k is not None:  # the product of the two sides: what it computes is neither
            return frozenset()
        if not any(len(r) == 2 for r in reads) and name not in self.mixed and len(self.mixed) < 16:
            self.mixed.append(name)
        return joined

    def _sides_of(self, t) -> frozenset:
        return self.sides.get(_key(t), frozenset()) if isinstance(t, torch.Tensor) and not t.is_meta else frozenset()

    def _own(self, name: str) -> None:
        if name not in self.own_kernels:
            self.own_kernels.append(name)

    def __exit__(self, *exc):
        result = super().__exit__(*exc)
        for func, own in self.kernels.items():  # a kernel registered after the operator's first dispatch
            if not own and _own_kernel(func):
                self._own(func.overloadpacket.__name__)
        return result

    def _adds_nothing(self, bias) -> bool:
        """A biased product's own input (``addmm``'s ``self``) leaves its output the product's: a
        number, another product's output, or zeros. Anything else did work beside the product (red
        team, round 21: the separate form's sum as the bias of a product of zeros)."""
        if not isinstance(bias, torch.Tensor) or bias.numel() <= 1 or _key(bias) in self.products:
            return True
        return bias.device.type == "meta" or not bool(bias.any())

    def _tampered(self, tensors) -> set:
        """The storages of ``tensors`` that hold derived data, or are being filled with it, and were
        changed behind torch's back since the last traced write."""
        return {key for t in tensors if ((key := _key(t)) in self.derived or key in self.coverage)
                and not self._unchanged(key, t)}

    def _wrote(self, key, t, derived: bool, tampered: bool = False) -> None:
        """Track what a traced write left in ``t``'s storage. A write that covers the whole storage
        sets its state; a partial one can only add the bytes it covers: a storage becomes derived
        once derived writes covered all of it (a buffer filled row by row), never because of an
        empty or partial write into memory that holds data from elsewhere."""
        nbytes, size = t.untyped_storage().nbytes(), t.element_size()
        elements = nbytes // size
        if _whole(t):
            (self.derived.add if derived else self.derived.discard)(key)  # the whole storage
            self.coverage.pop(key, None)
        else:
            if tampered:  # foreign bytes in it: only what this write covers can count as derived
                self.derived.discard(key)
                self.coverage.pop(key, None)
            if derived and key not in self.derived:
                if not self._cover(key, t, elements, True) and not nbytes % size:  # bytes past the last element: never covered
                    self.derived.add(key)
                    self.coverage.pop(key, None)
            elif not derived:
                if key in self.derived:  # the rest of it stays derived
                    self.derived.discard(key)
                    self.coverage[key] = [torch.ones(elements, dtype=torch.bool), 0]
                self._cover(key, t, elements, False)
        if key in self.derived or key in self.coverage:  # a sample of what the operator left there, to catch
            self.samples[key] = self._sample(t)              # writes that bypass torch (partly covered ones too)

    def _cover(self, key, t, elements: int, value: bool) -> int:
        """Mark the elements of its storage that ``t`` views as covered by a derived write or not;
        returns how many of the storage's elements derived writes have not covered. The cost is
        that of ``t``'s own elements, so a buffer filled row by row costs what its rows do; a view
        that may cover an element twice (stride 0) is counted afresh over the whole storage."""
        entry = self.coverage.get(key)
        if entry is None or entry[0].numel() != elements:  # a new storage: nothing covered yet
            entry = self.coverage[key] = [torch.zeros(elements, dtype=torch.bool), elements]
        cov = entry[0]
        view = cov.as_strided(t.shape, t.stride(), t.storage_offset())
        if _distinct(view):
            already = int(view.sum())
            view.fill_(value)
            entry[1] += already if not value else already - view.numel()
        else:
            view.fill_(value)
            entry[1] = elements - int(cov.sum())
        return entry[1]

    def _inputs_of(self, t) -> frozenset:
        return self.inputs_of.get(_key(t), frozenset()) if isinstance(t, torch.Tensor) else frozenset()

    def product_inputs(self, results) -> list:
        """Per returned tensor that holds a product's output: the indexes of the call's inputs each
        of that product's two operands was computed from (sorted lists); else ``None``."""
        return [[sorted(side) for side in self.products[key]]
                if type(t) is torch.Tensor and (key := _key(t)) is not None and self.products.get(key) is not None
                else None for t in results]

    def from_products(self, results) -> list:
        """Per returned tensor: whether its storage holds a matrix product's output (or what only
        relabels, copies or scales it by a number), as the last traced write left it; ``None`` for
        a result with no storage to follow (``meta``) or not a tensor."""
        return [(_key(t) in self.products and self._intact(t)) if type(t) is torch.Tensor and _key(t) is not None
                else None for t in results]

    def outside(self, results) -> list:
        """Indexes of the returned tensors whose data is not derived, or was changed after the last
        traced operator wrote it (through ``.numpy()``, a raw pointer): computed outside the trace."""
        return [i for i, t in enumerate(results) if type(t) is torch.Tensor and t.device.type != "meta"
                and t.numel() and not self._intact(t)]

    @staticmethod
    def _bytes(t):
        return torch.empty(0, dtype=torch.uint8, device=t.device).set_(t.untyped_storage())

    def _sample(self, t) -> tuple:
        """``SAMPLED_BYTES`` bytes of ``t``'s storage at random offsets (drawn afresh at every write),
        or all of a storage no larger than ``WHOLE_BYTES``: constant cost whatever the size, and a write behind
        torch's back that changes more than a few bytes shows."""
        raw = self._bytes(t)
        if not raw.numel():
            return None
        if raw.numel() <= WHOLE_BYTES:
            return None, raw.clone(), raw.numel()
        where = torch.randint(raw.numel(), (SAMPLED_BYTES,), generator=self.generator).to(raw.device)
        return where, torch.take(raw, where), raw.numel()

    def _unchanged(self, key, t) -> bool:
        """``t``'s storage holds, where sampled, what the last traced write left there."""
        sample = self.samples.get(key)
        if sample is None:  # an empty storage
            return True
        where, was, nbytes = sample
        if t.untyped_storage().nbytes() != nbytes:  # resized behind torch's back
            return False
        raw = self._bytes(t)
        return torch.equal(raw if where is None else torch.take(raw, where), was)

    def _intact(self, t) -> bool:
        """``t`` views derived data, as the last traced write left it: a derived storage, or the
        covered part of one that derived writes are filling (a row written, then added to)."""
        key = _key(t)
        if key is None:
            return True
        if key not in self.derived:
            entry = self.coverage.get(key)
            size = t.element_size()
            if entry is None or entry[0].numel() != t.untyped_storage().nbytes() // size:
                return False
            if not bool(entry[0].as_strided(t.shape, t.stride(), t.storage_offset()).all()):
                return False
        return self._unchanged(key, t)
