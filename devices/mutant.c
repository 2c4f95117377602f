/* devices/mutant.c - the mutant switch (see mutant.h); empty in normal builds. */
#include "mutant.h"

#ifdef VMM_TEST_HOOKS
int vmm_mutant;
#else
/* ISO C wants at least one declaration in a translation unit. */
typedef int mutant_unused;
#endif
