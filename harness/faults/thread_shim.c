/* migration-kit thread shim: makes one thread's call the one strace fails.
 *
 * Why and how: harness/faults/thread_shim.py. Loaded with LD_PRELOAD into every process of
 * an injected run. It wraps libc's file functions; each call that may make the targeted
 * syscall and names the targeted files (shell globs, one per file) is counted, all threads
 * together; at the ORDINAL-th such call, that thread first makes harmless calls of the
 * syscall (every argument -1: EBADF or EFAULT, nothing touched) until strace fails one with
 * the injected errno (its count in that thread has reached AHEAD), then makes the real call,
 * which strace fails too (its `when` is AHEAD..AHEAD+1). No other thread gets that far.
 *
 * MK_THREAD_SHIM="SYSCALL ERRNO ORDINAL AHEAD"; MK_THREAD_SHIM_FILES: the globs, one per line.
 * Without them the shim does nothing but pass every call on.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>
#include <utime.h>

#define MAX_FILES 4

static const struct { const char *name; long nr; } NUMBERS[] = {
/* @NUMBERS@ */
    {NULL, -1},
};

static int configured;
static char target[40];  /* " fsync ": the syscall, space-delimited for the family lookup */
static long target_nr = -1;
static char *globs[MAX_FILES];
static int nglobs;
static long ordinal, ahead;
static int fault;
static long seen;
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((constructor)) static void configure(void) {
    const char *spec = getenv("MK_THREAD_SHIM");
    const char *files = getenv("MK_THREAD_SHIM_FILES");
    char name[32];
    if (spec == NULL || files == NULL) return;
    if (sscanf(spec, "%31s %d %ld %ld", name, &fault, &ordinal, &ahead) != 4) return;
    for (int i = 0; NUMBERS[i].name != NULL; i++)
        if (strcmp(NUMBERS[i].name, name) == 0) target_nr = NUMBERS[i].nr;
    if (target_nr < 0) return;
    snprintf(target, sizeof target, " %s ", name);
    char *copy = strdup(files);
    for (char *line = strtok(copy, "\n"); line && nglobs < MAX_FILES; line = strtok(NULL, "\n"))
        globs[nglobs++] = line;
    configured = nglobs > 0;
}

/* Whether a function that may make any of FAMILY's syscalls (" a b ") is watched. */
static int watching(const char *family) {
    return configured && strstr(family, target) != NULL;
}

static void fd_key(int fd, char *out) {
    char link[64];
    out[0] = '\0';
    if (fd < 0) return;
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, out, PATH_MAX - 1);
    if (n < 0) n = 0;
    out[n] = '\0';
    char *deleted = strstr(out, " (deleted)");
    if (deleted != NULL && deleted[10] == '\0') *deleted = '\0';
}

/* What strace shows for a path relative to a directory descriptor: the path itself when it is
 * absolute or relative to the working directory, else the directory's path joined to it. */
static void at_key(int dirfd, const char *path, char *out) {
    out[0] = '\0';
    if (path == NULL) {
        fd_key(dirfd, out);
    } else if (path[0] == '/' || dirfd == AT_FDCWD) {
        snprintf(out, PATH_MAX, "%s", path);
    } else {
        char dir[PATH_MAX];
        fd_key(dirfd, dir);
        if (dir[0] != '\0') snprintf(out, PATH_MAX, "%s/%s", dir, path);
    }
}

static void path_key(const char *path, char *out) {
    snprintf(out, PATH_MAX, "%s", path ? path : "");
}

/* Count the call if it names the targeted files; at the target, run this thread ahead. */
static void check(int n, const char *a, const char *b) {
    const char *keys[2] = {a, b};
    if (n != nglobs) return;
    for (int i = 0; i < n; i++)
        if (keys[i][0] == '\0' || fnmatch(globs[i], keys[i], FNM_PATHNAME) != 0) return;
    pthread_mutex_lock(&seen_lock);
    long mine = ++seen;
    pthread_mutex_unlock(&seen_lock);
    if (mine != ordinal) return;
    int saved = errno;
    for (long i = 0; i <= ahead; i++) {
        long r = syscall(target_nr, -1L, -1L, -1L, -1L, -1L, -1L);
        if (r == -1 && errno == fault) break;
    }
    errno = saved;
}

#define REAL(ret, fn, ...)                                                     \
    static ret (*real)(__VA_ARGS__);                                          \
    if (real == NULL) *(void **)&real = dlsym(RTLD_NEXT, fn);                 \
    if (real == NULL) { errno = ENOSYS; return (ret)-1; }

#define FD1(family, fd)                                                       \
    if (watching(family)) { char k[PATH_MAX]; fd_key(fd, k); check(1, k, ""); }
#define PATH1(family, path)                                                   \
    if (watching(family)) { char k[PATH_MAX]; path_key(path, k); check(1, k, ""); }
#define AT1(family, dirfd, path)                                              \
    if (watching(family)) { char k[PATH_MAX]; at_key(dirfd, path, k); check(1, k, ""); }

static int open_mode(int flags, va_list ap) {
    return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, int) : 0;
}

#define OPEN(fn)                                                              \
    int fn(const char *path, int flags, ...) {                                \
        va_list ap; va_start(ap, flags); int mode = open_mode(flags, ap); va_end(ap); \
        REAL(int, #fn, const char *, int, ...)                                \
        AT1(" open openat ", AT_FDCWD, path)                                  \
        return real(path, flags, mode);                                       \
    }
OPEN(open)
OPEN(open64)

#define OPENAT(fn)                                                            \
    int fn(int dirfd, const char *path, int flags, ...) {                     \
        va_list ap; va_start(ap, flags); int mode = open_mode(flags, ap); va_end(ap); \
        REAL(int, #fn, int, const char *, int, ...)                           \
        AT1(" openat ", dirfd, path)                                          \
        return real(dirfd, path, flags, mode);                                \
    }
OPENAT(openat)
OPENAT(openat64)

int __open_2(const char *path, int flags);
int __open64_2(const char *path, int flags);
int __openat_2(int dirfd, const char *path, int flags);
int __openat64_2(int dirfd, const char *path, int flags);
#define OPEN2(fn)                                                             \
    int fn(const char *path, int flags) {                                     \
        REAL(int, #fn, const char *, int) AT1(" open openat ", AT_FDCWD, path) \
        return real(path, flags);                                             \
    }
OPEN2(__open_2)
OPEN2(__open64_2)
#define OPENAT2(fn)                                                           \
    int fn(int dirfd, const char *path, int flags) {                          \
        REAL(int, #fn, int, const char *, int) AT1(" openat ", dirfd, path)   \
        return real(dirfd, path, flags);                                      \
    }
OPENAT2(__openat_2)
OPENAT2(__openat64_2)

int creat(const char *path, mode_t mode) {
    REAL(int, "creat", const char *, mode_t) PATH1(" creat open openat ", path)
    return real(path, mode);
}
int creat64(const char *path, mode_t mode) {
    REAL(int, "creat64", const char *, mode_t) PATH1(" creat open openat ", path)
    return real(path, mode);
}

ssize_t write(int fd, const void *buf, size_t count) {
    REAL(ssize_t, "write", int, const void *, size_t) FD1(" write ", fd)
    return real(fd, buf, count);
}
ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset) {
    REAL(ssize_t, "pwrite", int, const void *, size_t, off_t) FD1(" pwrite64 ", fd)
    return real(fd, buf, count, offset);
}
ssize_t pwrite64(int fd, const void *buf, size_t count, off64_t offset) {
    REAL(ssize_t, "pwrite64", int, const void *, size_t, off64_t) FD1(" pwrite64 ", fd)
    return real(fd, buf, count, offset);
}
ssize_t writev(int fd, const struct iovec *iov, int n) {
    REAL(ssize_t, "writev", int, const struct iovec *, int) FD1(" writev ", fd)
    return real(fd, iov, n);
}
ssize_t pwritev(int fd, const struct iovec *iov, int n, off_t offset) {
    REAL(ssize_t, "pwritev", int, const struct iovec *, int, off_t) FD1(" pwritev ", fd)
    return real(fd, iov, n, offset);
}
ssize_t pwritev64(int fd, const struct iovec *iov, int n, off64_t offset) {
    REAL(ssize_t, "pwritev64", int, const struct iovec *, int, off64_t) FD1(" pwritev ", fd)
    return real(fd, iov, n, offset);
}
ssize_t pwritev2(int fd, const struct iovec *iov, int n, off_t offset, int flags) {
    REAL(ssize_t, "pwritev2", int, const struct iovec *, int, off_t, int)
    FD1(" pwritev2 ", fd)
    return real(fd, iov, n, offset, flags);
}
ssize_t pwritev64v2(int fd, const struct iovec *iov, int n, off64_t offset, int flags) {
    REAL(ssize_t, "pwritev64v2", int, const struct iovec *, int, off64_t, int)
    FD1(" pwritev2 ", fd)
    return real(fd, iov, n, offset, flags);
}

int fsync(int fd) {
    REAL(int, "fsync", int) FD1(" fsync ", fd)
    return real(fd);
}
int fdatasync(int fd) {
    REAL(int, "fdatasync", int) FD1(" fdatasync ", fd)
    return real(fd);
}

int ftruncate(int fd, off_t length) {
    REAL(int, "ftruncate", int, off_t) FD1(" ftruncate ", fd)
    return real(fd, length);
}
int ftruncate64(int fd, off64_t length) {
    REAL(int, "ftruncate64", int, off64_t) FD1(" ftruncate ", fd)
    return real(fd, length);
}
int truncate(const char *path, off_t length) {
    REAL(int, "truncate", const char *, off_t) PATH1(" truncate ", path)
    return real(path, length);
}
int truncate64(const char *path, off64_t length) {
    REAL(int, "truncate64", const char *, off64_t) PATH1(" truncate ", path)
    return real(path, length);
}

/* Copies name their source first, then their destination (harness/faults/syscalls.py). */
ssize_t copy_file_range(int in, off64_t *in_off, int out, off64_t *out_off, size_t len,
                        unsigned int flags) {
    REAL(ssize_t, "copy_file_range", int, off64_t *, int, off64_t *, size_t, unsigned int)
    if (watching(" copy_file_range ")) {
        char a[PATH_MAX], b[PATH_MAX];
        fd_key(in, a); fd_key(out, b); check(2, a, b);
    }
    return real(in, in_off, out, out_off, len, flags);
}
#define SENDFILE(fn, off)                                                      \
    ssize_t fn(int out, int in, off *offset, size_t count) {                   \
        REAL(ssize_t, #fn, int, int, off *, size_t)                           \
        if (watching(" sendfile ")) {                                          \
            char a[PATH_MAX], b[PATH_MAX];                                     \
            fd_key(in, a); fd_key(out, b); check(2, a, b);                     \
        }                                                                      \
        return real(out, in, offset, count);                                   \
    }
SENDFILE(sendfile, off_t)
SENDFILE(sendfile64, off64_t)

#define TWO_PATHS(family, a_dir, a_path, b_dir, b_path)                        \
    if (watching(family)) {                                                    \
        char a[PATH_MAX], b[PATH_MAX];                                         \
        at_key(a_dir, a_path, a); at_key(b_dir, b_path, b); check(2, a, b);    \
    }
int rename(const char *old, const char *new) {
    REAL(int, "rename", const char *, const char *)
    TWO_PATHS(" rename renameat renameat2 ", AT_FDCWD, old, AT_FDCWD, new)
    return real(old, new);
}
int renameat(int olddir, const char *old, int newdir, const char *new) {
    REAL(int, "renameat", int, const char *, int, const char *)
    TWO_PATHS(" renameat renameat2 ", olddir, old, newdir, new)
    return real(olddir, old, newdir, new);
}
int renameat2(int olddir, const char *old, int newdir, const char *new, unsigned int flags) {
    REAL(int, "renameat2", int, const char *, int, const char *, unsigned int)
    TWO_PATHS(" renameat2 ", olddir, old, newdir, new)
    return real(olddir, old, newdir, new, flags);
}
int link(const char *old, const char *new) {
    REAL(int, "link", const char *, const char *)
    TWO_PATHS(" link linkat ", AT_FDCWD, old, AT_FDCWD, new)
    return real(old, new);
}
int linkat(int olddir, const char *old, int newdir, const char *new, int flags) {
    REAL(int, "linkat", int, const char *, int, const char *, int)
    TWO_PATHS(" linkat ", olddir, old, newdir, new)
    return real(olddir, old, newdir, new, flags);
}

int unlink(const char *path) {
    REAL(int, "unlink", const char *) AT1(" unlink unlinkat ", AT_FDCWD, path)
    return real(path);
}
int unlinkat(int dirfd, const char *path, int flags) {
    REAL(int, "unlinkat", int, const char *, int) AT1(" unlinkat ", dirfd, path)
    return real(dirfd, path, flags);
}
int rmdir(const char *path) {
    REAL(int, "rmdir", const char *) AT1(" rmdir unlinkat ", AT_FDCWD, path)
    return real(path);
}
int mkdir(const char *path, mode_t mode) {
    REAL(int, "mkdir", const char *, mode_t) AT1(" mkdir mkdirat ", AT_FDCWD, path)
    return real(path, mode);
}
int mkdirat(int dirfd, const char *path, mode_t mode) {
    REAL(int, "mkdirat", int, const char *, mode_t) AT1(" mkdirat ", dirfd, path)
    return real(dirfd, path, mode);
}
/* symlink(2) is traced by the link's name only. */
int symlink(const char *to, const char *path) {
    REAL(int, "symlink", const char *, const char *) AT1(" symlink symlinkat ", AT_FDCWD, path)
    return real(to, path);
}
int symlinkat(const char *to, int dirfd, const char *path) {
    REAL(int, "symlinkat", const char *, int, const char *) AT1(" symlinkat ", dirfd, path)
    return real(to, dirfd, path);
}

int chmod(const char *path, mode_t mode) {
    REAL(int, "chmod", const char *, mode_t) AT1(" chmod fchmodat ", AT_FDCWD, path)
    return real(path, mode);
}
int fchmod(int fd, mode_t mode) {
    REAL(int, "fchmod", int, mode_t) FD1(" fchmod ", fd)
    return real(fd, mode);
}
int fchmodat(int dirfd, const char *path, mode_t mode, int flags) {
    REAL(int, "fchmodat", int, const char *, mode_t, int) AT1(" fchmodat ", dirfd, path)
    return real(dirfd, path, mode, flags);
}
int utimensat(int dirfd, const char *path, const struct timespec times[2], int flags) {
    REAL(int, "utimensat", int, const char *, const struct timespec *, int)
    AT1(" utimensat ", dirfd, path)
    return real(dirfd, path, times, flags);
}
int futimens(int fd, const struct timespec times[2]) {
    REAL(int, "futimens", int, const struct timespec *) AT1(" utimensat ", fd, NULL)
    return real(fd, times);
}
int utimes(const char *path, const struct timeval times[2]) {
    REAL(int, "utimes", const char *, const struct timeval *)
    AT1(" utimes utimensat ", AT_FDCWD, path)
    return real(path, times);
}
int utime(const char *path, const struct utimbuf *times) {
    REAL(int, "utime", const char *, const struct utimbuf *)
    AT1(" utime utimensat ", AT_FDCWD, path)
    return real(path, times);
}
