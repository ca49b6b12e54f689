/*
 * The bench's native reference scanner (issue 15): what a careful C programmer would write for the
 * core figure of `kvmtax report` on ftrace text, so the bench measures kvmtax's distance from the
 * hardware's limit instead of remembering it.
 *
 *   cc -O2 -pthread -o native bench/native.c && ./native FILE [THREADS] > totals.json
 *
 * Work done, and nothing more: read the file in large blocks, find lines with memchr, per line parse
 * the header (tid before the "(tgid)" and "[cpu]" columns, the "sec.usec:" timestamp), the event name,
 * and for kvm_exit the reason; pair each kvm_exit with the same thread's next kvm_entry and sum
 * exits seen, exits handled and handling time per reason. Threads are a direct-mapped table indexed by
 * tid (pid_max is at most 4M); reasons a small open-addressing table. Prints the totals as JSON in the
 * shape the bench compares (the same totals kvmtax and the generator report).
 *
 * With THREADS > 1 (what `kvmtax report --jobs N` is measured against: how much faster this machine runs the
 * same scan on N threads), the file is cut at line starts into THREADS even slices, each scanned by its own
 * thread into its own tables with pread; the slices then merge exactly: an exit still pending at a slice's
 * end pairs with its thread's first kvm_entry in the next slice that has any event of that thread.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <pthread.h>

#define BLOCK (8u << 20)
#define MAXTID (1u << 22)
#define NR 256

struct reason { char name[48]; uint32_t len; uint64_t seen, handled, total_ns; };
/* a table of reasons by name: each slice has its own (no lock on the hot path), merged by name at the end */
struct reasons { struct reason r[NR]; int n; int hash[1024]; };
static struct reasons all;

/*
 * One slice's state, per thread (tid): the pending exit's reason + 1 (0 = none) and its time; and, for the
 * merge, whether the slice saw the thread at all and the time of a kvm_entry that came before any of its
 * exits in the slice (the entry of an exit pending at the previous slice's end).
 */
#define SEEN 1
#define LEAD 2
struct slice {
  uint16_t *pend_reason;
  uint64_t *pend_ts, *lead_ts;
  uint8_t *flags;
  struct reasons rs;
  long long start, end;
  const char *file;
};

static int reason_of(struct reasons *t, const char *p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
  for (uint32_t s = h & 1023;; s = (s + 1) & 1023) {
    int r = t->hash[s];
    if (r == 0) {
      if (t->n >= NR - 1 || n >= sizeof t->r[0].name) return -1;
      struct reason *x = &t->r[t->n];
      memcpy(x->name, p, n); x->name[n] = 0; x->len = n;
      t->hash[s] = ++t->n;
      return t->n - 1;
    }
    if (t->r[r - 1].len == n && memcmp(t->r[r - 1].name, p, n) == 0) return r - 1;
  }
}

static void line(struct slice *x, const char *s, const char *e) {
  if (s == e || *s == '#') return;
  /* the cpu column: "[ddd]" after the task-pid and the optional "(tgid)" */
  const char *b = memchr(s, '[', (size_t)(e - s));
  if (!b) return;
  const char *q = b - 1;
  while (q > s && *q == ' ') q--;
  if (*q == ')') { /* (tgid) */
    while (q > s && *q != '(') q--;
    q--;
    while (q > s && *q == ' ') q--;
  }
  uint32_t tid = 0, mul = 1;
  while (q >= s && *q >= '0' && *q <= '9') { tid += (uint32_t)(*q - '0') * mul; mul *= 10; q--; }
  if (q < s || *q != '-' || tid >= MAXTID) return;
  const char *p = memchr(b, ']', (size_t)(e - b));
  if (!p) return;
  p++;
  /* flags (optional), then the timestamp sec.usec */
  while (p < e && *p == ' ') p++;
  if (p < e && !(*p >= '0' && *p <= '9')) { while (p < e && *p != ' ') p++; while (p < e && *p == ' ') p++; }
  uint64_t sec = 0, frac = 0; int fd = 0;
  while (p < e && *p >= '0' && *p <= '9') sec = sec * 10 + (uint64_t)(*p++ - '0');
  if (p < e && *p == '.') { p++; while (p < e && *p >= '0' && *p <= '9') { frac = frac * 10 + (uint64_t)(*p++ - '0'); fd++; } }
  while (fd < 9) { frac *= 10; fd++; }
  uint64_t ts = sec * 1000000000ull + frac;
  if (p + 2 >= e || *p != ':') return;
  p += 2;
  if (e - p > 10 && memcmp(p, "kvm_exit: ", 10) == 0) {
    const char *r = p + 10;
    const char *m = NULL;
    for (const char *t = r; t + 7 <= e; t++) if (t[0] == 'r' && memcmp(t, "reason ", 7) == 0) { m = t + 7; break; }
    if (!m) return;
    const char *z = m;
    while (z < e && *z != ' ') z++;
    int ri = reason_of(&x->rs, m, (uint32_t)(z - m));
    if (ri < 0) return;
    x->rs.r[ri].seen++;
    x->flags[tid] |= SEEN;
    x->pend_reason[tid] = (uint16_t)(ri + 1);
    x->pend_ts[tid] = ts;
  } else if (e - p > 11 && memcmp(p, "kvm_entry: ", 11) == 0) {
    int ri = (int)x->pend_reason[tid] - 1;
    if (ri >= 0) {
      x->rs.r[ri].handled++;
      x->rs.r[ri].total_ns += ts - x->pend_ts[tid];
      x->pend_reason[tid] = 0;
    } else if (!(x->flags[tid] & SEEN)) {
      x->flags[tid] |= LEAD;
      x->lead_ts[tid] = ts;
    }
    x->flags[tid] |= SEEN;
  }
}

static void *scan(void *arg) {
  struct slice *x = arg;
  int fd = open(x->file, O_RDONLY);
  if (fd < 0) { perror(x->file); exit(1); }
  char *buf = malloc(BLOCK + 4096);
  size_t have = 0;
  long long pos = x->start;
  for (;;) {
    size_t want = BLOCK - have;
    if ((long long)want > x->end - pos) want = (size_t)(x->end - pos);
    ssize_t n = want ? pread(fd, buf + have, want, pos) : 0;
    if (n < 0) { perror("read"); exit(1); }
    pos += n;
    size_t end = have + (size_t)n;
    const char *s = buf, *lim = buf + end;
    for (;;) {
      const char *nl = memchr(s, '\n', (size_t)(lim - s));
      if (!nl) break;
      line(x, s, nl);
      s = nl + 1;
    }
    have = (size_t)(lim - s);
    memmove(buf, s, have);
    if (n == 0) { if (have) line(x, buf, buf + have); break; }
    if (have == BLOCK) { fprintf(stderr, "line longer than %u bytes\n", BLOCK); exit(1); }
  }
  close(fd);
  free(buf);
  return NULL;
}

static void slice_init(struct slice *x, const char *file, long long start, long long end) {
  memset(x, 0, sizeof *x);
  x->file = file; x->start = start; x->end = end;
  /* calloc: zero pages the scan never touches cost nothing */
  x->pend_reason = calloc(MAXTID, sizeof *x->pend_reason);
  x->pend_ts = calloc(MAXTID, sizeof *x->pend_ts);
  x->lead_ts = calloc(MAXTID, sizeof *x->lead_ts);
  x->flags = calloc(MAXTID, 1);
  if (!x->pend_reason || !x->pend_ts || !x->lead_ts || !x->flags) { perror("calloc"); exit(1); }
}

int main(int argc, char **argv) {
  if (argc != 2 && argc != 3) { fprintf(stderr, "usage: native FILE [THREADS]\n"); return 2; }
  int nt = argc == 3 ? atoi(argv[2]) : 1;
  if (nt < 1 || nt > 64) { fprintf(stderr, "THREADS: 1 to 64\n"); return 2; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 1; }
  long long size = lseek(fd, 0, SEEK_END);
  /* cuts at the line start after each even share */
  long long cut[65];
  cut[0] = 0; cut[nt] = size;
  for (int k = 1; k < nt; k++) {
    long long at = size * k / nt;
    char b[65536];
    ssize_t n = pread(fd, b, sizeof b, at);
    char *nl = n > 0 ? memchr(b, '\n', (size_t)n) : NULL;
    if (!nl) { fprintf(stderr, "no line start near byte %lld\n", at); return 1; }
    cut[k] = at + (nl - b) + 1;
    if (cut[k] <= cut[k - 1] || cut[k] > size) { fprintf(stderr, "file too small for %d threads\n", nt); return 1; }
  }
  close(fd);
  static struct slice xs[64];
  pthread_t th[64];
  for (int k = 0; k < nt; k++) slice_init(&xs[k], argv[1], cut[k], cut[k + 1]);
  for (int k = 1; k < nt; k++) pthread_create(&th[k], NULL, scan, &xs[k]);
  scan(&xs[0]);
  for (int k = 1; k < nt; k++) pthread_join(th[k], NULL);
  /* merge: the slices' sums by reason name, and each exit pending at a slice's end with its entry in a later slice */
  static int to_all[64][NR];
  for (int k = 0; k < nt; k++) for (int r = 0; r < xs[k].rs.n; r++) {
    struct reason *x = &xs[k].rs.r[r];
    int g = to_all[k][r] = reason_of(&all, x->name, x->len);
    all.r[g].seen += x->seen; all.r[g].handled += x->handled; all.r[g].total_ns += x->total_ns;
  }
  /* pending: the reason in `all`'s numbering + 1 */
  struct slice *acc = &xs[0];
  for (uint32_t t = 0; t < MAXTID; t++) if (acc->pend_reason[t]) acc->pend_reason[t] = (uint16_t)(to_all[0][acc->pend_reason[t] - 1] + 1);
  for (int k = 1; k < nt; k++) {
    struct slice *x = &xs[k];
    for (uint32_t t = 0; t < MAXTID; t++) {
      if (!(x->flags[t] & SEEN)) continue;
      int ri = (int)acc->pend_reason[t] - 1;
      if (ri >= 0 && (x->flags[t] & LEAD)) { all.r[ri].handled++; all.r[ri].total_ns += x->lead_ts[t] - acc->pend_ts[t]; }
      acc->pend_reason[t] = x->pend_reason[t] ? (uint16_t)(to_all[k][x->pend_reason[t] - 1] + 1) : 0;
      acc->pend_ts[t] = x->pend_ts[t];
    }
  }
  uint64_t es = 0, eh = 0, host = 0;
  printf("{\"reasons\":{");
  for (int i = 0; i < all.n; i++) {
    struct reason *r = &all.r[i];
    printf("%s\"%s\":{\"exits_seen\":%llu,\"exits_handled\":%llu,\"total_ns\":%llu}", i ? "," : "", r->name,
           (unsigned long long)r->seen, (unsigned long long)r->handled, (unsigned long long)r->total_ns);
    es += r->seen; eh += r->handled; host += r->total_ns;
  }
  printf("},\"exits_seen\":%llu,\"exits_handled\":%llu,\"host_ns\":%llu}\n", (unsigned long long)es, (unsigned long long)eh, (unsigned long long)host);
  return 0;
}
