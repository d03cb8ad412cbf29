"""The likely causes of a lost point, as short stable codes: every check failure carries one
(:class:`autograder.judge.questions.CheckFailure`), the batch grader writes it into ``checks.csv``
and the class report counts them. Codes are an interface (gradebook values): keep them, add new
ones here with the words an instructor reads in the report's legend.
"""

CAUSES = {
    # the answer's values
    "wrong_answer": "values differ from the reference, and no named mistake matches",
    "elementwise_product": "an elementwise * where a matrix product (@) is needed",
    "transposed_weight": "a transposed weight (W_hh.T, W_xh.T)",
    "missing_term": "one of the two terms X @ W_xh, H @ W_hh is missing",
    "wrong_axis": "the wrong concatenation axis",
    "wrong_order": "the concatenation order swapped (H before X, or W_hh before W_xh)",
    "concat_not_multiplied": "returned the concatenation itself, not its product with the weights",
    "wrong_shape": "a result of the wrong shape",
    "rows_columns_swapped": "a shape with rows and columns swapped",
    "not_a_shape": "a shape that is not a tuple of ints",
    "missing_tanh": "no tanh in the RNN step",
    "missing_bias": "no bias b_h in the RNN step",
    "cached_result": "the same result returned for new inputs (a cache or a remembered result)",
    # what came back
    "missing_return": "returned None: a missing return, or the stub left as it was",
    "not_a_tuple": "did not return the tuple the question asks for",
    "list_not_stacked": "a list of tensors where one stacked tensor is expected",
    "not_a_tensor": "returned something that is not a torch.Tensor",
    "numpy_result": "returned a numpy array",
    "tensor_subclass": "returned a subclass of torch.Tensor",
    "changed_dtype": "a result of another dtype than the inputs' (.float(), .double())",
    "wrong_device": "a result on another device than the inputs' (.cpu(), a tensor created without device=)",
    # how it was computed
    "off_device": "a tensor moved off the inputs' device or created without device= (fails on meta)",
    "numpy_roundtrip": "a round trip through numpy or Python numbers",
    "host_sync": "a host synchronization (.item(), .cpu(), .tolist()) in the fused step",
    "outside_torch": "a result that torch did not compute (numpy, another thread or process)",
    "own_kernel": "code of the notebook's own under a torch operator (torch.library, a custom op, a C++ extension, a tensor subclass)",
    "inplace_update": "an input modified in place (+=, .add_(), [...] =)",
    "separate_form": "two products and a sum where one fused product is asked for",
    "no_product": "no matrix product at all (hidden from torch, e.g. by numpy)",
    "loop_over_rows": "a loop over rows: one product per row, or work that grows with n",
    "loop_over_columns": "a loop over the h columns: one product per column",
    "loop_of_operators": "a loop of torch operators (over columns, rows or steps) around or instead of the one product",
    "result_not_the_product": "the result is not the one product's output: other operators did the work",
    "wrong_operands": "the one product does not multiply cat((X, H)) by cat((W_xh, W_hh)): it only passes on other work",
    "broadcast_product": "a product computed by broadcasting and summing, not by a matrix product",
    "wrong_products": "matrix products of unexpected sizes",
    "not_fused_per_step": "not one fused product per time step",
    "weights_in_loop": "the weights concatenated inside the loop, not once before it",
    "too_slow": "slower than one fused product beyond the limit",
    "raised": "the function raised an exception",
    "hangs": "the check did not finish within its time limit (an endless loop, a sleep)",
    "runner_died": "the notebook's process ended (sys.exit, a crash, out of memory)",
    "protocol": "the submission's process broke the grading protocol",
    "not_defined": "the graded name is not defined (its cell not run, or renamed)",
    "not_a_function": "the graded name is not a function",
    "notebook_failed": "the notebook did not run to its end",
    "no_notebook": "no notebook the grader could read (not a notebook, an unreadable zip, a link)",
    # not the answer's fault
    "values_failed": "not run: it counts only once the values check passes",
    "gate_failed": "not counted: it counts only once the groups it depends on passed, and one of them failed",
    "grader_undecided": "the grader could not decide (graded again)",
    "machine_busy": "the machine was too busy to decide (graded again)",
    "grader_error": "the grader itself failed (graded again)",
}
