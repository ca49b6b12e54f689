/*
 * The bench's native reference scanner (issue 15): what a careful C programmer would write for the
 * core figure of `kvmtax report` on ftrace text, so the bench measures kvmtax's distance from the
 * hardware's limit instead of remembering it.
 *
 *   cc -O2 -o native bench/native.c && ./native FILE > totals.json
 *
 * Work done, and nothing more: read the file in large blocks, find lines with memchr, per line parse
 * the header (tid before the "(tgid)" and "[cpu]" columns, the "sec.usec:" timestamp), the event name,
 * and for kvm_exit the reason; pair each kvm_exit with the same thread's next kvm_entry and sum
 * exits seen, exits handled and handling time per reason. Threads are a direct-mapped table indexed by
 * tid (pid_max is at most 4M); reasons a small open-addressing table. Prints the totals as JSON in the
 * shape the bench compares (the same totals kvmtax and the generator report).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#define BLOCK (8u << 20)
#define MAXTID (1u << 22)
#define NR 256

struct reason { char name[48]; uint32_t len; uint64_t seen, handled, total_ns; };
static struct reason reasons[NR];
static int nreasons;
static int rhash[1024];

/* per thread: the pending exit's reason + 1 (0 = none) and its time */
static uint16_t pend_reason[MAXTID];
static uint64_t pend_ts[MAXTID];

static int reason_of(const char *p, uint32_t n) {
  uint32_t h = 2166136261u;
  for (uint32_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
  for (uint32_t s = h & 1023;; s = (s + 1) & 1023) {
    int r = rhash[s];
    if (r == 0) {
      if (nreasons >= NR - 1 || n >= sizeof reasons[0].name) return -1;
      struct reason *x = &reasons[nreasons];
      memcpy(x->name, p, n); x->name[n] = 0; x->len = n;
      rhash[s] = ++nreasons;
      return nreasons - 1;
    }
    if (reasons[r - 1].len == n && memcmp(reasons[r - 1].name, p, n) == 0) return r - 1;
  }
}

static void line(const char *s, const char *e) {
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
    int ri = reason_of(m, (uint32_t)(z - m));
    if (ri < 0) return;
    reasons[ri].seen++;
    pend_reason[tid] = (uint16_t)(ri + 1);
    pend_ts[tid] = ts;
  } else if (e - p > 11 && memcmp(p, "kvm_entry: ", 11) == 0) {
    int ri = (int)pend_reason[tid] - 1;
    if (ri >= 0) {
      reasons[ri].handled++;
      reasons[ri].total_ns += ts - pend_ts[tid];
      pend_reason[tid] = 0;
    }
  }
}

int main(int argc, char **argv) {
  if (argc != 2) { fprintf(stderr, "usage: native FILE\n"); return 2; }
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) { perror(argv[1]); return 1; }
  char *buf = malloc(BLOCK + 4096);
  size_t have = 0;
  for (;;) {
    ssize_t n = read(fd, buf + have, BLOCK - have);
    if (n < 0) { perror("read"); return 1; }
    size_t end = have + (size_t)n;
    const char *s = buf, *lim = buf + end;
    for (;;) {
      const char *nl = memchr(s, '\n', (size_t)(lim - s));
      if (!nl) break;
      line(s, nl);
      s = nl + 1;
    }
    have = (size_t)(lim - s);
    memmove(buf, s, have);
    if (n == 0) { if (have) line(buf, buf + have); break; }
    if (have == BLOCK) { fprintf(stderr, "line longer than %u bytes\n", BLOCK); return 1; }
  }
  uint64_t es = 0, eh = 0, host = 0;
  printf("{\"reasons\":{");
  for (int i = 0; i < nreasons; i++) {
    struct reason *r = &reasons[i];
    printf("%s\"%s\":{\"exits_seen\":%llu,\"exits_handled\":%llu,\"total_ns\":%llu}", i ? "," : "", r->name,
           (unsigned long long)r->seen, (unsigned long long)r->handled, (unsigned long long)r->total_ns);
    es += r->seen; eh += r->handled; host += r->total_ns;
  }
  printf("},\"exits_seen\":%llu,\"exits_handled\":%llu,\"host_ns\":%llu}\n", (unsigned long long)es, (unsigned long long)eh, (unsigned long long)host);
  return 0;
}
