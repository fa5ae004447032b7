#define _GNU_SOURCE
#include <unistd.h>
#include <pthread.h>
#include <sys/resource.h>
#include "strata_system.h"

int strata_syncfs(int fd) {
    return syncfs(fd);
}

int strata_set_thread_name(const char *name) {
    return pthread_setname_np(pthread_self(), name);
}

int strata_set_thread_niceness(int niceness) {
    return setpriority(PRIO_PROCESS, (id_t)gettid(), niceness);
}
