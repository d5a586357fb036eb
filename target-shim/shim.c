/* stub */
#include <errno.h>
