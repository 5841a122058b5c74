/*
 * lmtp_spool: the durable spool for recipients that got a 4xx after the
 * data (SMTPSEC.md 5), and its retry loop.
 *
 * One file per Email in spool_dir, "<created>-<pid>-<n>.msg":
 *   SMTPSEC-SPOOL 1\n  created U\n  attempts N\n  next U\n  from ADDR\n
 *   rcpt ADDR\n (one per waiting recipient)  \n  <the delivered copy>
 * Written to a temp name, fsync'd, renamed, and the directory fsync'd before
 * anyone is told.  A retry rewrites the file the same way with the
 * recipients still waiting, or removes it when none are; after max_age it
 * moves to spool_dir/failed/.
 *
 * One owner per entry: every worker of a gateway (and a restarted one)
 * scans the same directory, so a retry first claims its entry with
 * flock(LOCK_EX|LOCK_NB) on the open file and keeps the lock until the
 * entry is removed or rewritten.  The kernel drops the lock when its
 * owner dies, so a claim of a killed worker is free again at once (no
 * stale claim to recover).  A claimer checks that the file it locked is
 * still the one at the name (not removed, not replaced by a rewrite)
 * before it reads it.  spool_dir must be a local file system.
 *
 * Each process runs up to `connections` retries at a time: the spool is a
 * safety net for a mailstore that is over quota or briefly unwell, not a
 * queue manager.  Entries are found by scanning the directory, so they
 * survive restarts with no other state.
 */
#include "lmtp/lmtp_int.h"

#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/sys.h"

#define SPOOL_MAX_RCPT	1000
#define SPOOL_BACKOFF_MAX 3600

/* The header of an entry ("SMTPSEC-SPOOL 1" ... blank line). */
struct hdr {
	uint64_t created, attempts, next;
	char from[512];
	char *rcpt[SPOOL_MAX_RCPT];	/* owned */
	size_t n_rcpt, body_off;
};

struct lmtp_spool_entry {
	struct lmtp_spool_entry *next;	/* in the spool's in-flight list */
	int fd;				/* owned: holds the claim (flock) */
	char path[1024];
	const char *name;		/* borrowed: the base name in path */
	struct hdr h;
	uint8_t *map;
	size_t map_len;
};

struct lmtp_spool {
	struct lmtp *l;
	struct ev_loop *loop;
	char dir[900];
	unsigned retry_ms;
	uint64_t max_age_s;
	struct ev_timer timer;		/* periodic scan; fed for a rescan once a
					 * retry slot is free */
	struct lmtp_spool_entry *inflight;	/* claimed, retry running */
	unsigned n_inflight, max_inflight;
	int more;			/* a scan stopped for lack of a slot */
	unsigned counter;
	uint64_t depth;
	void (*cb)(void *arg, const struct lmtp_spool_event *ev);
	void *cb_arg;
};

static void
emit(struct lmtp_spool *sp, const struct lmtp_spool_event *ev)
{
	if (sp->cb != NULL)
		sp->cb(sp->cb_arg, ev);
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int r;

	if (fd < 0)
		return -1;
	r = fsync(fd);
	close(fd);
	return r;
}

/* fsync_dir of the directory that holds path */
static int
fsync_parent(const char *path)
{
	const char *sl = strrchr(path, '/');
	char d[1400];

	if (sl == NULL || (size_t)(sl - path) >= sizeof(d)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(d, path, (size_t)(sl - path));
	d[sl - path] = '\0';
	return fsync_dir(d);
}

/* Write header + body to final in dir (atomically, durably); tmp_n makes
 * the temporary name unique in this process. */
static int
store(const char *dir, unsigned tmp_n, const char *final, const char *from, const char *const *rcpt,
    size_t n, uint64_t created, uint64_t attempts, uint64_t next,
    const struct lmtp_seg *seg, size_t n_seg)
{
	char tmp[1100], hdr[512];
	size_t i;
	int fd, hl, saved;

	if (snprintf(tmp, sizeof(tmp), "%s/tmp.%d.%u", dir, (int)getpid(), tmp_n) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	hl = snprintf(hdr, sizeof(hdr), "SMTPSEC-SPOOL 1\ncreated %llu\nattempts %llu\nnext %llu\nfrom %s\n",
	    (unsigned long long)created, (unsigned long long)attempts, (unsigned long long)next, from);
	if (hl < 0 || (size_t)hl >= sizeof(hdr) || sys_write_all(fd, hdr, (size_t)hl) < 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (strchr(rcpt[i], '\n') != NULL || sys_write_all(fd, "rcpt ", 5) < 0 ||
		    sys_write_all(fd, rcpt[i], strlen(rcpt[i])) < 0 || sys_write_all(fd, "\n", 1) < 0)
			goto fail;
	if (sys_write_all(fd, "\n", 1) < 0)
		goto fail;
	for (i = 0; i < n_seg; i++)
		if (sys_write_all(fd, seg[i].p, seg[i].len) < 0)
			goto fail;
	if (fsync(fd) < 0 || close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, final) < 0 || fsync_dir(dir) < 0)
		goto fail;
	return 0;
fail:
	saved = errno;	/* ENOSPC or EDQUOT, say: what the log shows */
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = saved;
	return -1;
}

int
lmtp_spool_write(struct lmtp_spool *sp, const char *from, const char **rcpt, size_t n,
    const struct lmtp_seg *seg, size_t n_seg)
{
	char final[1100];
	uint64_t now = (uint64_t)time(NULL);

	if (n == 0 || n > SPOOL_MAX_RCPT || strchr(from, '\n') != NULL)
		return -1;
	snprintf(final, sizeof(final), "%s/%llu-%d-%u.msg", sp->dir, (unsigned long long)now,
	    (int)getpid(), sp->counter++);
	if (store(sp->dir, sp->counter++, final, from, (const char *const *)rcpt, n, now, 0,
	    now + sp->retry_ms / 1000, seg, n_seg) < 0)
		return -1;
	sp->depth++;
	return 0;
}

static void
hdr_free(struct hdr *h)
{
	size_t i;

	for (i = 0; i < h->n_rcpt; i++)
		free(h->rcpt[i]);
	h->n_rcpt = 0;
}

static void
entry_free(struct lmtp_spool_entry *e)
{
	if (e == NULL)
		return;
	hdr_free(&e->h);
	if (e->map != NULL)
		munmap(e->map, e->map_len);
	if (e->fd >= 0)
		close(e->fd);	/* releases the claim */
	free(e);
}

/* 0, or -1 when it is not a spool entry (h holds what was read: free it) */
static int
parse_header(const uint8_t *map, size_t len, struct hdr *h)
{
	size_t off = 0;

	memset(h, 0, sizeof(*h));
	for (;;) {
		const uint8_t *nl = memchr(map + off, '\n', len - off);
		char line[600];
		size_t ll;

		if (nl == NULL)
			return -1;
		ll = (size_t)(nl - (map + off));
		if (ll >= sizeof(line))
			return -1;
		memcpy(line, map + off, ll);
		line[ll] = '\0';
		off += ll + 1;
		if (ll == 0)
			break;
		if (strncmp(line, "created ", 8) == 0)
			h->created = strtoull(line + 8, NULL, 10);
		else if (strncmp(line, "attempts ", 9) == 0)
			h->attempts = strtoull(line + 9, NULL, 10);
		else if (strncmp(line, "next ", 5) == 0)
			h->next = strtoull(line + 5, NULL, 10);
		else if (strncmp(line, "from ", 5) == 0) {
			if (snprintf(h->from, sizeof(h->from), "%s", line + 5) >= (int)sizeof(h->from))
				return -1;
		} else if (strncmp(line, "rcpt ", 5) == 0 && h->n_rcpt < SPOOL_MAX_RCPT) {
			h->rcpt[h->n_rcpt++] = mem_strdup(line + 5);
		} else if (strcmp(line, "SMTPSEC-SPOOL 1") != 0)
			return -1;
	}
	if (h->n_rcpt == 0 || h->from[0] == '\0')
		return -1;
	h->body_off = off;
	return 0;
}

/* Claim the entry at path (a retry, or smtpsec-spool changing it): the fd
 * holding the claim, or -1 with *why LMTP_SPOOL_BUSY / LMTP_SPOOL_NOT_FOUND
 * (absent, or removed or replaced since it was found). */
static int
claim_fd(const char *path, int *why)
{
	struct stat st, at;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*why = LMTP_SPOOL_NOT_FOUND;
	if (fd < 0)
		return -1;
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EWOULDBLOCK)
			*why = LMTP_SPOOL_BUSY;
		close(fd);
		return -1;
	}
	if (fstat(fd, &st) < 0 || st.st_nlink == 0 || stat(path, &at) < 0 ||
	    at.st_ino != st.st_ino || at.st_dev != st.st_dev) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Map a claimed entry and parse its header: 0, or -1 (nothing left to free). */
static int
map_entry(int fd, uint8_t **map_r, size_t *len_r, struct hdr *h)
{
	struct stat st;

	*map_r = NULL;
	memset(h, 0, sizeof(*h));
	if (fstat(fd, &st) < 0 || st.st_size == 0)
		return -1;
	*len_r = (size_t)st.st_size;
	*map_r = mmap(NULL, *len_r, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*map_r == MAP_FAILED) {
		*map_r = NULL;
		return -1;
	}
	if (parse_header(*map_r, *len_r, h) < 0) {
		hdr_free(h);
		munmap(*map_r, *len_r);
		*map_r = NULL;
		return -1;
	}
	return 0;
}

enum claim { CLAIM_OK, CLAIM_BUSY, CLAIM_GONE, CLAIM_BAD };

/* Claim the entry dir/name, then parse its header and map its body.
 * CLAIM_BUSY: another retry owns it; CLAIM_GONE: removed or replaced since
 * the scan saw it; CLAIM_BAD: unreadable, *e_r still holds the claim so it
 * can be moved aside. */
static enum claim
entry_claim(const char *dir, const char *name, struct lmtp_spool_entry **e_r)
{
	struct lmtp_spool_entry *e = mem_calloc(1, sizeof(*e));
	int why;

	*e_r = NULL;
	e->fd = -1;
	if (snprintf(e->path, sizeof(e->path), "%s/%s", dir, name) >= (int)sizeof(e->path)) {
		free(e);
		return CLAIM_GONE;
	}
	e->name = e->path + strlen(dir) + 1;
	/* the owner before us may have removed it, or rewritten it under the
	 * same name (a new file, with a later next retry) */
	e->fd = claim_fd(e->path, &why);
	if (e->fd < 0) {
		entry_free(e);
		return why == LMTP_SPOOL_BUSY ? CLAIM_BUSY : CLAIM_GONE;
	}
	*e_r = e;
	if (map_entry(e->fd, &e->map, &e->map_len, &e->h) < 0)
		return CLAIM_BAD;
	return CLAIM_OK;
}

/* Move a claimed entry to failed/ (still holding its claim), report ev,
 * then free the entry (the claim goes with it).  A rename changes two
 * directories: both are synced, or after a crash the entry could be in
 * neither (the spool's removal on disk, failed/'s addition not). */
static void
move_failed(struct lmtp_spool *sp, struct lmtp_spool_entry *e, const struct lmtp_spool_event *ev)
{
	char dst[1200];

	if (snprintf(dst, sizeof(dst), "%s/failed/%s", sp->dir, e->name) < (int)sizeof(dst) &&
	    rename(e->path, dst) == 0) {
		fsync_parent(dst);
		fsync_dir(sp->dir);
	}
	emit(sp, ev);
	entry_free(e);
}

static void
scan(struct lmtp_spool *sp)
{
	DIR *d = opendir(sp->dir);
	struct dirent *de;
	uint64_t now = (uint64_t)time(NULL), depth = 0;

	if (d == NULL)
		return;
	sp->more = 0;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		struct lmtp_spool_entry *e;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".msg") != 0)
			continue;
		depth++;	/* less the entries gone or moved aside below */
		if (sp->n_inflight >= sp->max_inflight) {
			sp->more = 1;
			continue;
		}
		switch (entry_claim(sp->dir, de->d_name, &e)) {
		case CLAIM_BUSY:
			continue;	/* another worker's retry, or our own */
		case CLAIM_GONE:
			depth--;
			continue;
		case CLAIM_BAD: {
			struct lmtp_spool_event ev = { e->name, "", "unreadable", 0, 0, 0, 0,
			    "not a spool entry; moved to failed/", 0, 0 };

			depth--;
			move_failed(sp, e, &ev);
			continue;
		}
		case CLAIM_OK:
			break;
		}
		if (e->h.created + sp->max_age_s <= now) {
			struct lmtp_spool_event ev = { e->name, e->h.from, "expired", (unsigned)e->h.attempts,
			    0, e->h.n_rcpt, 0, "spool_max_age reached; moved to failed/", 0, 0 };

			depth--;
			move_failed(sp, e, &ev);
			continue;
		}
		if (e->h.next > now) {
			entry_free(e);
			continue;
		}
		{
			struct lmtp_seg seg = { e->map + e->h.body_off, e->map_len - e->h.body_off };
			struct lmtp_msg m = { e->h.from, (const char *const *)e->h.rcpt, e->h.n_rcpt, &seg, 1,
			    e->map, e->map_len, -1, 1 };

			e->next = sp->inflight;
			sp->inflight = e;
			sp->n_inflight++;
			lmtp_deliver_spooled(sp->l, &m, e);
		}
	}
	closedir(d);
	sp->depth = depth;
}

void
lmtp_spool_done(struct lmtp_spool *sp, struct lmtp_spool_entry *e, const struct lmtp_result *r,
    const char *const *rcpt)
{
	const char *left[SPOOL_MAX_RCPT];
	size_t i, n = 0, nd = 0, nb = 0;
	uint64_t now = (uint64_t)time(NULL), delay = 0, t0 = sys_now_us();
	struct lmtp_spool_event ev;
	struct lmtp_spool_entry **pp;
	const char *why = NULL;

	for (i = 0; i < r->n_rcpt && i < e->h.n_rcpt; i++) {
		switch (r->tempfail ? LMTP_RCPT_TEMPFAIL : r->rcpt[i].status) {
		case LMTP_RCPT_DELIVERED:
			nd++;
			break;
		case LMTP_RCPT_REJECTED:
			nb++;
			why = r->rcpt[i].text;
			break;
		default:
			left[n++] = rcpt[i];
			if (why == NULL)
				why = r->tempfail ? r->why : r->rcpt[i].text;
			break;
		}
	}
	memset(&ev, 0, sizeof(ev));
	ev.entry = e->name;
	ev.from = e->h.from;
	ev.attempt = (unsigned)e->h.attempts + 1;
	ev.n_delivered = nd;
	ev.n_bounced = nb;
	ev.n_deferred = n;
	if (n == 0) {
		unlink(e->path);
		fsync_dir(sp->dir);
		if (sp->depth > 0)
			sp->depth--;
		ev.result = nb ? "bounced" : "delivered";
	} else {
		struct lmtp_seg seg = { e->map + e->h.body_off, e->map_len - e->h.body_off };

		delay = (uint64_t)sp->retry_ms / 1000;
		for (i = 0; i < e->h.attempts + 1 && delay < SPOOL_BACKOFF_MAX; i++)
			delay *= 2;
		if (delay > SPOOL_BACKOFF_MAX)
			delay = SPOOL_BACKOFF_MAX;
		if (delay == 0)
			delay = 1;
		ev.result = "deferred";
		ev.next_s = (unsigned)delay;
		/* rewrite in place: a crash between leaves the old entry, which
		 * only means a recipient may be tried once more */
		if (store(sp->dir, sp->counter++, e->path, e->h.from, left, n, e->h.created,
		    e->h.attempts + 1, now + delay, &seg, 1) < 0) {
			ev.result = "rewrite_failed";
			why = strerror(errno);
		}
	}
	ev.why = why ? why : "";
	ev.record_us = sys_now_us() - t0;
	emit(sp, &ev);
	for (pp = &sp->inflight; *pp != NULL; pp = &(*pp)->next)
		if (*pp == e) {
			*pp = e->next;
			sp->n_inflight--;
			break;
		}
	entry_free(e);	/* releases the claim, after the entry was updated */
	if (sp->more)	/* from the loop; a pending feed is not doubled */
		ev_feed_event(sp->loop, &sp->timer, EV_TIMER);
}

static void
on_timer(struct ev_loop *loop, struct ev_timer *w, int revents)
{
	struct lmtp_spool *sp = w->data;

	(void)loop;
	(void)revents;
	scan(sp);
}

uint64_t
lmtp_spool_entries(const struct lmtp_spool *sp)
{
	return sp->depth;
}

int
lmtp_spool_open(struct lmtp_spool **sp_r, struct lmtp *l, struct ev_loop *loop,
    const struct lmtp_options *opt, char *err, size_t errlen)
{
	struct lmtp_spool *sp = mem_calloc(1, sizeof(*sp));
	const char *dir = opt->spool_dir;
	char failed[1000];
	double tick;

	*sp_r = NULL;
	if (strlen(dir) >= sizeof(sp->dir) - 100) {
		snprintf(err, errlen, "spool_dir too long");
		free(sp);
		return -1;
	}
	snprintf(sp->dir, sizeof(sp->dir), "%s", dir);
	snprintf(failed, sizeof(failed), "%s/failed", dir);
	if ((mkdir(dir, 0750) < 0 && errno != EEXIST) || (mkdir(failed, 0750) < 0 && errno != EEXIST) ||
	    access(dir, W_OK) < 0) {
		snprintf(err, errlen, "spool_dir %s: %s", dir, strerror(errno));
		free(sp);
		return -1;
	}
	sp->l = l;
	sp->loop = loop;
	sp->retry_ms = opt->spool_retry_ms ? opt->spool_retry_ms : 60000;
	sp->max_age_s = (opt->spool_max_age_ms ? opt->spool_max_age_ms : 5ULL * 86400 * 1000) / 1000;
	sp->max_inflight = opt->connections ? opt->connections : 8;
	sp->cb = opt->spool_cb;
	sp->cb_arg = opt->spool_arg;
	tick = sp->retry_ms / 4000.0;
	if (tick < 0.2)
		tick = 0.2;
	if (tick > 10)
		tick = 10;
	ev_timer_init(&sp->timer, on_timer, 0, tick);	/* first scan at once: restarts resume */
	sp->timer.data = sp;
	ev_timer_start(loop, &sp->timer);
	ev_unref(loop);		/* the spool alone does not keep a loop running */
	*sp_r = sp;
	return 0;
}

void
lmtp_spool_close(struct lmtp_spool **sp_p)
{
	struct lmtp_spool *sp = *sp_p;

	if (sp == NULL)
		return;
	ev_ref(sp->loop);
	ev_timer_stop(sp->loop, &sp->timer);
	/* retries in flight were detached by lmtp_deinit; their entries stay
	 * on disk, unclaimed once freed */
	while (sp->inflight != NULL) {
		struct lmtp_spool_entry *e = sp->inflight;

		sp->inflight = e->next;
		entry_free(e);
	}
	free(sp);
	*sp_p = NULL;
}

/* --- administration: smtpsec-spool ---------------------------------------
 * Safe while gateways run: an entry is changed or removed only under the
 * same claim a retry takes (flock LOCK_EX|LOCK_NB, then the inode at the
 * name checked), so an entry a worker is delivering is refused as busy,
 * and a worker that opened the file before we replaced it finds it gone.
 * Reading takes no claim: entries are never written in place (a rewrite
 * is a new file renamed over the name), so an open file is consistent. */

/* "<id>" or "<id>.msg" under dir (sub "" or "failed"); -1 if not a name */
static int
admin_path(char *buf, size_t len, const char *dir, const char *sub, const char *id)
{
	size_t il = strlen(id);
	int r;

	if (il == 0 || id[0] == '.' || strchr(id, '/') != NULL)
		return -1;
	if (il > 4 && strcmp(id + il - 4, ".msg") == 0)
		il -= 4;
	r = snprintf(buf, len, "%s%s%s/%.*s.msg", dir, sub[0] ? "/" : "", sub, (int)il, id);
	return r < 0 || (size_t)r >= len ? -1 : 0;
}

/* Find id in dir, then in dir/failed, and open it (with `claim`, take the
 * claim): the fd, or -1 with *why_r (LMTP_SPOOL_BUSY / LMTP_SPOOL_NOT_FOUND)
 * and the reason in err. */
static int
admin_find(const char *dir, const char *id, int claim, char *path, size_t len, int *failed_r,
    int *why_r, char *err, size_t errlen)
{
	int fd = -1;

	*failed_r = 0;
	*why_r = LMTP_SPOOL_NOT_FOUND;
	if (admin_path(path, len, dir, "", id) == 0)
		fd = claim ? claim_fd(path, why_r) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && *why_r != LMTP_SPOOL_BUSY && admin_path(path, len, dir, "failed", id) == 0) {
		*failed_r = 1;
		fd = claim ? claim_fd(path, why_r) : open(path, O_RDONLY | O_CLOEXEC);
	}
	if (fd < 0)
		snprintf(err, errlen, *why_r == LMTP_SPOOL_BUSY ? "%s is being delivered right now"
		    : "no spool entry %s", id);
	return fd;
}

/* The entry open at fd (file name `name`) into *it: 0, or -1 when it is
 * not a spool entry (it->unreadable, from "?"). */
static int
item_read(int fd, const char *name, int failed, struct lmtp_spool_item *it)
{
	size_t nl = strlen(name), len = 0;
	uint8_t *map;
	struct hdr h;
	int r;

	memset(it, 0, sizeof(*it));
	/* a shared lock fails only while a retry holds its claim */
	if (flock(fd, LOCK_SH | LOCK_NB) < 0)
		it->busy = errno == EWOULDBLOCK;
	else
		flock(fd, LOCK_UN);
	r = map_entry(fd, &map, &len, &h);
	if (r < 0) {
		memset(&h, 0, sizeof(h));
		snprintf(h.from, sizeof(h.from), "?");
		len = 0;
	} else
		munmap(map, len);
	snprintf(it->id, sizeof(it->id), "%.*s", (int)(nl > 4 ? nl - 4 : nl), name);
	it->failed = failed;
	it->unreadable = r < 0;
	it->created = h.created;
	it->attempts = h.attempts;
	it->next = h.next;
	it->size = len;
	it->body_off = h.body_off;
	snprintf(it->from, sizeof(it->from), "%s", h.from);
	it->n_rcpt = h.n_rcpt;
	it->rcpt = mem_calloc(h.n_rcpt ? h.n_rcpt : 1, sizeof(*it->rcpt));
	memcpy(it->rcpt, h.rcpt, h.n_rcpt * sizeof(*it->rcpt));	/* moved */
	return r;
}

static int
items_dir(const char *dir, int failed, struct lmtp_spool_item **items, size_t *n, size_t *cap)
{
	char sub[1100];
	DIR *d;
	struct dirent *de;

	if (snprintf(sub, sizeof(sub), "%s%s", dir, failed ? "/failed" : "") >= (int)sizeof(sub))
		return -1;
	d = opendir(sub);
	if (d == NULL)
		return failed && errno == ENOENT ? 0 : -1;
	while ((de = readdir(d)) != NULL) {
		size_t nl = strlen(de->d_name);
		char path[1400];
		int fd;

		if (nl < 5 || strcmp(de->d_name + nl - 4, ".msg") != 0 ||
		    snprintf(path, sizeof(path), "%s/%s", sub, de->d_name) >= (int)sizeof(path))
			continue;
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;	/* delivered or moved since readdir */
		*items = mem_grow(*items, cap, *n, sizeof(**items));
		(void)item_read(fd, de->d_name, failed, &(*items)[(*n)++]);
		close(fd);
	}
	closedir(d);
	return 0;
}

static int
item_cmp(const void *a, const void *b)
{
	const struct lmtp_spool_item *x = a, *y = b;

	if (x->failed != y->failed)
		return x->failed - y->failed;
	if (x->created != y->created)
		return x->created < y->created ? -1 : 1;
	return strcmp(x->id, y->id);
}

int
lmtp_spool_items(const char *dir, struct lmtp_spool_item **items_r, size_t *n_r)
{
	size_t cap = 0;

	*items_r = NULL;
	*n_r = 0;
	if (items_dir(dir, 0, items_r, n_r, &cap) < 0 || items_dir(dir, 1, items_r, n_r, &cap) < 0) {
		int saved = errno;

		lmtp_spool_items_free(items_r, *n_r);
		*n_r = 0;
		errno = saved;
		return -1;
	}
	if (*n_r > 1)
		qsort(*items_r, *n_r, sizeof(**items_r), item_cmp);
	return 0;
}

void
lmtp_spool_item_clear(struct lmtp_spool_item *it)
{
	size_t j;

	for (j = 0; j < it->n_rcpt; j++)
		free(it->rcpt[j]);
	free(it->rcpt);
	it->rcpt = NULL;
	it->n_rcpt = 0;
}

void
lmtp_spool_items_free(struct lmtp_spool_item **items_p, size_t n)
{
	struct lmtp_spool_item *items = *items_p;
	size_t i;

	if (items == NULL)
		return;
	for (i = 0; i < n; i++)
		lmtp_spool_item_clear(&items[i]);
	free(items);
	*items_p = NULL;
}

int
lmtp_spool_open_item(const char *dir, const char *id, struct lmtp_spool_item *it, char *err, size_t errlen)
{
	char path[1400];
	int fd, failed, why;

	memset(it, 0, sizeof(*it));
	fd = admin_find(dir, id, 0, path, sizeof(path), &failed, &why, err, errlen);
	if (fd < 0) {
		errno = ENOENT;
		return -1;
	}
	if (item_read(fd, strrchr(path, '/') + 1, failed, it) < 0) {
		lmtp_spool_item_clear(it);
		snprintf(err, errlen, "%s: not a spool entry", path);
		close(fd);
		errno = EINVAL;
		return -1;
	}
	return fd;	/* the caller reads the copy from it->body_off */
}

/* The claimed entry is rewritten to dst with next = 0 (created = now when
 * it comes back from failed/, or it would expire again at once). */
int
lmtp_spool_retry_now(const char *dir, const char *id, char *err, size_t errlen)
{
	char path[1400], dst[1400];
	uint8_t *map;
	size_t len;
	struct hdr h;
	int fd, failed, why, r = -1;

	fd = admin_find(dir, id, 1, path, sizeof(path), &failed, &why, err, errlen);
	if (fd < 0)
		return why;
	if (!failed)
		snprintf(dst, sizeof(dst), "%s", path);
	if (failed && (admin_path(dst, sizeof(dst), dir, "", id) < 0 || access(dst, F_OK) == 0))
		snprintf(err, errlen, "%s exists in the spool and in failed/", id);
	else if (map_entry(fd, &map, &len, &h) < 0)
		snprintf(err, errlen, "%s: not a spool entry", path);
	else {
		struct lmtp_seg seg = { map + h.body_off, len - h.body_off };

		r = store(dir, 0, dst, h.from, (const char *const *)h.rcpt, h.n_rcpt,
		    failed ? (uint64_t)time(NULL) : h.created, h.attempts, 0, &seg, 1);
		if (r < 0)
			snprintf(err, errlen, "cannot rewrite %s: %s", dst, strerror(errno));
		else if (failed && (unlink(path) < 0 || fsync_parent(path) < 0)) {
			snprintf(err, errlen, "requeued %s but cannot remove %s: %s", dst, path,
			    strerror(errno));
			r = -1;
		}
		hdr_free(&h);
		munmap(map, len);
	}
	close(fd);	/* releases the claim, after the rewrite */
	return r;
}

int
lmtp_spool_remove(const char *dir, const char *id, char *err, size_t errlen)
{
	char path[1400], sub[1100];
	int fd, failed, why, r = 0;

	fd = admin_find(dir, id, 1, path, sizeof(path), &failed, &why, err, errlen);
	if (fd < 0)
		return why;
	snprintf(sub, sizeof(sub), "%s%s", dir, failed ? "/failed" : "");
	if (unlink(path) < 0 || fsync_dir(sub) < 0) {
		snprintf(err, errlen, "cannot remove %s: %s", path, strerror(errno));
		r = -1;
	}
	close(fd);
	return r;
}
