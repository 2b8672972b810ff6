// A per-thread cap on the engine's work splitting. Swift has no thread-local storage of its own outside tasks;
// C11's _Thread_local costs one load where Parallel reads it.
#include "hv_kernels.h"

static _Thread_local int worker_cap;

int hv_thread_worker_cap(void) { return worker_cap; }
void hv_set_thread_worker_cap(int cap) { worker_cap = cap; }
