/* Compiled with the probes switched off at compile time: what the region
 * macros expand to, for test_regions. */
#define KBPROF_PROBES_DISABLED
#include "kbprof/probe.h"

#define STR2(x) #x
#define STR(x) STR2(x)

const char *probe_disabled_expansion(void);

const char *probe_disabled_expansion(void)
{
	KBPROF_REGION_BEGIN("x");
	KBPROF_REGION_END("x");
	return STR(KBPROF_REGION_BEGIN("x") KBPROF_REGION_END("x"));
}
