#define _GNU_SOURCE
#include <unistd.h>
#include <pthread.h>
#include "strata_system.h"

int strata_syncfs(int fd) {
    return syncfs(fd);
}

int strata_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}
