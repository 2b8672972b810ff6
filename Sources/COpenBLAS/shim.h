/* cblas.h of OpenBLAS also declares openblas_get_config/corename and thread control. */
#include <cblas.h>

/* The SSE control/status register (MXCSR) of the calling thread, for Sources/HVEngine/Denormals.swift: its
   flush-to-zero (bit 15) and denormals-are-zero (bit 6) modes. Swift has no intrinsic for it. Elsewhere than
   x86-64 these read 0 and write nothing. */
#if defined(__x86_64__)
#include <xmmintrin.h>
static inline unsigned int hv_get_mxcsr(void) { return _mm_getcsr(); }
static inline void hv_set_mxcsr(unsigned int csr) { _mm_setcsr(csr); }
#else
static inline unsigned int hv_get_mxcsr(void) { return 0; }
static inline void hv_set_mxcsr(unsigned int csr) { (void)csr; }
#endif
