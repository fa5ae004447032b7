#define _GNU_SOURCE
#include <unistd.h>
#include "strata_system.h"

int strata_syncfs(int fd) {
    return syncfs(fd);
}
