// System calls that Swift's Glibc module does not expose (they need _GNU_SOURCE).
#ifndef STRATA_SYSTEM_H
#define STRATA_SYSTEM_H

/// syncfs(2): flush every dirty page and inode of the file system holding `fd`.
int strata_syncfs(int fd);

/// pthread_setname_np for the calling thread (names show in top -H and gdb).
int strata_set_thread_name(const char *name);

/// setpriority(2) for the calling thread alone (Linux keeps a nice value per thread).
int strata_set_thread_niceness(int niceness);

#endif
