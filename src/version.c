/* The build's identity: the library version and the source revision it was compiled from (the
 * Makefile passes EI_GIT_REV and rebuilds this file whenever the revision changes). */
#include "edgeinf.h"

#ifndef EI_GIT_REV
#define EI_GIT_REV "unknown"
#endif

const char *ei_build_id(void) { return EI_VERSION " (" EI_GIT_REV ")"; }
