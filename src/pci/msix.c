/* MSI-X capability, table and PBA emulation (see msix.h). */
#include "pci/msix.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

static uint32_t entry_dword(const struct msix_entry *e, unsigned int i)
{
	switch (i) {
	case 0:
		return e->addr_lo;
	case 1:
		return e->addr_hi;
	case 2:
		return e->data;
	default:
		return e->ctrl;
	}
}

/* Whether vector v is masked now, and its message. Lock held, v in range. */
static struct msix_reported effective(const struct msix *m, unsigned int v)
{
	const struct msix_entry *e = &m->table[v];

	return (struct msix_reported){
		.addr = (uint64_t)e->addr_hi << 32 | e->addr_lo,
		.data = e->data,
		.masked = !m->enabled || m->function_masked || (e->ctrl & PCI_MSIX_ENTRY_CTRL_MASKBIT),
	};
}

static bool pending(const struct msix *m, unsigned int v)
{
	return m->pba[v / 64] >> (v % 64) & 1;
}

/* Reports vector v if its state changed since the last report (a masked vector's message
 * changes are not reported), then fires it if it is unmasked and pending. Lock held. */
static void update_vector(struct msix *m, unsigned int v)
{
	struct msix_reported now = effective(m, v), *old = &m->reported[v];

	if (now.masked != old->masked ||
	    (!now.masked && (now.addr != old->addr || now.data != old->data))) {
		*old = now;
		if (m->ops && m->ops->vector_changed)
			m->ops->vector_changed(m->opaque, v, now.addr, now.data, now.masked);
	}
	if (!now.masked && pending(m, v)) {
		m->pba[v / 64] &= ~(1ull << (v % 64));
		if (m->ops && m->ops->fire)
			m->ops->fire(m->opaque, v);
	}
}

/* Whether [off, off + len) lies in BAR `bar` of `dev` as a declared memory BAR. */
static bool in_mem_bar(const struct pci_device *dev, unsigned int bar, uint64_t off, uint64_t len)
{
	const struct pci_bar *b;

	if (bar >= PCI_NUM_BARS)
		return false;
	b = &dev->bars[bar];
	return b->size && !(b->flags & PCI_BAR_IO) && len <= b->size && off <= b->size - len;
}

int msix_init(struct msix *m, struct pci_device *dev, unsigned int nr_vectors,
	      unsigned int table_bar, uint64_t table_offset, unsigned int pba_bar,
	      uint64_t pba_offset, const struct msix_ops *ops, void *opaque)
{
	uint64_t tsize = MSIX_TABLE_SIZE(nr_vectors), psize = MSIX_PBA_SIZE(nr_vectors);
	int cap, r;

	if (!m || !dev || nr_vectors == 0 || nr_vectors > MSIX_MAX_VECTORS ||
	    (table_offset & 7) || (pba_offset & 7) || table_offset > UINT32_MAX ||
	    pba_offset > UINT32_MAX || !in_mem_bar(dev, table_bar, table_offset, tsize) ||
	    !in_mem_bar(dev, pba_bar, pba_offset, psize))
		return -EINVAL;
	if (table_bar == pba_bar && table_offset < pba_offset + psize &&
	    pba_offset < table_offset + tsize)
		return -EINVAL;
	if (dev->bus)
		return -EBUSY;
	memset(m, 0, sizeof(*m));
	m->table = calloc(nr_vectors, sizeof(*m->table));
	m->pba = calloc((nr_vectors + 63) / 64, sizeof(*m->pba));
	m->reported = calloc(nr_vectors, sizeof(*m->reported));
	if (!m->table || !m->pba || !m->reported) {
		r = -ENOMEM;
		goto err;
	}
	r = -pthread_mutex_init(&m->lock, NULL);
	if (r)
		goto err;
	cap = pci_add_capability(dev, PCI_CAP_ID_MSIX, MSIX_CAP_LEN);
	if (cap < 0) {
		pthread_mutex_destroy(&m->lock);
		r = cap;
		goto err;
	}
	m->dev = dev;
	m->nr_vectors = nr_vectors;
	m->cap = (uint32_t)cap;
	m->table_bar = table_bar;
	m->pba_bar = pba_bar;
	m->table_offset = table_offset;
	m->pba_offset = pba_offset;
	m->ops = ops;
	m->opaque = opaque;
	for (unsigned int v = 0; v < nr_vectors; v++) {
		m->table[v].ctrl = PCI_MSIX_ENTRY_CTRL_MASKBIT;
		m->reported[v].masked = true;
	}
	/* The capability is in the first 256 bytes, so these cannot fail. */
	(void)pci_config_set16(dev, m->cap + PCI_MSIX_FLAGS, (uint16_t)(nr_vectors - 1));
	(void)pci_config_set32(dev, m->cap + PCI_MSIX_TABLE, (uint32_t)table_offset | table_bar);
	(void)pci_config_set32(dev, m->cap + PCI_MSIX_PBA, (uint32_t)pba_offset | pba_bar);
	(void)pci_config_set_wmask(dev, m->cap + PCI_MSIX_FLAGS, 2,
				   PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	return 0;
err:
	free(m->table);
	free(m->pba);
	free(m->reported);
	memset(m, 0, sizeof(*m));
	return r;
}

void msix_destroy(struct msix *m)
{
	if (!m || !m->table)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->table);
	free(m->pba);
	free(m->reported);
	memset(m, 0, sizeof(*m));
}

/* One aligned DWORD write of `v` to table byte offset `off`. Lock held, off in range. */
static void table_write32(struct msix *m, uint64_t off, uint32_t v)
{
	unsigned int vec = (unsigned int)(off / PCI_MSIX_ENTRY_SIZE);
	struct msix_entry *e = &m->table[vec];

	switch (off % PCI_MSIX_ENTRY_SIZE) {
	case PCI_MSIX_ENTRY_LOWER_ADDR:
		e->addr_lo = v;
		break;
	case PCI_MSIX_ENTRY_UPPER_ADDR:
		e->addr_hi = v;
		break;
	case PCI_MSIX_ENTRY_DATA:
		e->data = v;
		break;
	default: /* Vector Control: only the Mask bit is implemented */
		e->ctrl = v & PCI_MSIX_ENTRY_CTRL_MASKBIT;
		break;
	}
	update_vector(m, vec);
}

/* An access at `off` into the table (off < table size). Lock held. */
static void table_access(struct msix *m, uint64_t off, uint8_t *data, unsigned int len,
			 bool is_write)
{
	uint64_t size = MSIX_TABLE_SIZE(m->nr_vectors);

	if (!is_write) {
		for (unsigned int i = 0; i < len; i++) {
			uint64_t b = off + i;

			data[i] = 0;
			if (b < size) {
				const struct msix_entry *e = &m->table[b / PCI_MSIX_ENTRY_SIZE];
				uint32_t dw = entry_dword(e, (b % PCI_MSIX_ENTRY_SIZE) / 4);

				data[i] = (uint8_t)(dw >> (8 * (b % 4)));
			}
		}
		return;
	}
	if ((len != 4 && len != 8) || (off & (len - 1)) || len > size - off) {
		log_ratelimited(LOG_DEBUG, "msix", "ignored %u-byte table write at %#llx", len,
				(unsigned long long)off);
		return;
	}
	for (unsigned int i = 0; i < len; i += 4) {
		uint32_t v = (uint32_t)data[i] | (uint32_t)data[i + 1] << 8 |
			     (uint32_t)data[i + 2] << 16 | (uint32_t)data[i + 3] << 24;

		table_write32(m, off + i, v);
	}
}

/* A read at `off` into the PBA (off < PBA size). Lock held. */
static void pba_read(const struct msix *m, uint64_t off, uint8_t *data, unsigned int len)
{
	uint64_t size = MSIX_PBA_SIZE(m->nr_vectors);

	for (unsigned int i = 0; i < len; i++) {
		uint64_t b = off + i;

		data[i] = b < size ? (uint8_t)(m->pba[b / 8] >> (8 * (b % 8))) : 0;
	}
}

bool msix_bar_access(struct msix *m, unsigned int bar, uint64_t offset, uint8_t *data,
		     unsigned int len, bool is_write)
{
	bool in_table, in_pba;

	if (!m || !m->table || !data || len == 0 || len > 8)
		return false;
	in_table = bar == m->table_bar && offset >= m->table_offset &&
		   offset - m->table_offset < MSIX_TABLE_SIZE(m->nr_vectors);
	in_pba = bar == m->pba_bar && offset >= m->pba_offset &&
		 offset - m->pba_offset < MSIX_PBA_SIZE(m->nr_vectors);
	if (!in_table && !in_pba)
		return false;
	pthread_mutex_lock(&m->lock);
	if (in_table)
		table_access(m, offset - m->table_offset, data, len, is_write);
	else if (!is_write)
		pba_read(m, offset - m->pba_offset, data, len);
	pthread_mutex_unlock(&m->lock);
	return true;
}

void msix_config_write(struct msix *m, uint32_t offset, unsigned int len)
{
	uint32_t ctrl_off;
	uint16_t ctrl;
	bool enabled, fmask;

	if (!m || !m->table || len == 0)
		return;
	ctrl_off = m->cap + PCI_MSIX_FLAGS;
	if (offset >= ctrl_off + 2 || offset + len <= ctrl_off)
		return;
	ctrl = pci_config_get16(m->dev, ctrl_off);
	enabled = ctrl & PCI_MSIX_FLAGS_ENABLE;
	fmask = ctrl & PCI_MSIX_FLAGS_MASKALL;
	pthread_mutex_lock(&m->lock);
	if (enabled != m->enabled || fmask != m->function_masked) {
		m->enabled = enabled;
		m->function_masked = fmask;
		for (unsigned int v = 0; v < m->nr_vectors; v++)
			update_vector(m, v);
	}
	pthread_mutex_unlock(&m->lock);
}

bool msix_notify(struct msix *m, unsigned int vector)
{
	bool fire = false;

	if (!m || !m->table || vector >= m->nr_vectors)
		return false;
	pthread_mutex_lock(&m->lock);
	if (m->enabled) {
		if (effective(m, vector).masked)
			m->pba[vector / 64] |= 1ull << (vector % 64);
		else
			fire = true;
	}
	pthread_mutex_unlock(&m->lock);
	return fire;
}

int msix_vector_get(struct msix *m, unsigned int vector, uint64_t *addr, uint32_t *data,
		    bool *masked)
{
	struct msix_reported now;

	if (!m || !m->table || vector >= m->nr_vectors)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	now = effective(m, vector);
	pthread_mutex_unlock(&m->lock);
	if (addr)
		*addr = now.addr;
	if (data)
		*data = now.data;
	if (masked)
		*masked = now.masked;
	return 0;
}

bool msix_is_pending(struct msix *m, unsigned int vector)
{
	bool p;

	if (!m || !m->table || vector >= m->nr_vectors)
		return false;
	pthread_mutex_lock(&m->lock);
	p = pending(m, vector);
	pthread_mutex_unlock(&m->lock);
	return p;
}

bool msix_enabled(struct msix *m)
{
	bool e;

	if (!m || !m->table)
		return false;
	pthread_mutex_lock(&m->lock);
	e = m->enabled;
	pthread_mutex_unlock(&m->lock);
	return e;
}
