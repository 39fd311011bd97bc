/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Tracepoints of dax kmem: device state transitions, per memory block
 * plug and unplug operations, and what the provider says of the backing.
 * See Documentation/admin-guide/mm/dax-kmem.rst.
 */
#undef TRACE_SYSTEM
#define TRACE_SYSTEM dax_kmem

#if !defined(_TRACE_DAX_KMEM_H) || defined(TRACE_HEADER_MULTI_READ)
#define _TRACE_DAX_KMEM_H

#include <linux/tracepoint.h>

TRACE_EVENT(dax_kmem_transition,
	    TP_PROTO(const char *dev, const char *from, const char *to,
		     int err),
	    TP_ARGS(dev, from, to, err),
	    TP_STRUCT__entry(__string(dev, dev)
			     __string(from, from)
			     __string(to, to)
			     __field(int, err)),
	    TP_fast_assign(__assign_str(dev);
			   __assign_str(from);
			   __assign_str(to);
			   __entry->err = err;),
	    TP_printk("%s: %s -> %s err=%d", __get_str(dev), __get_str(from),
		      __get_str(to), __entry->err)
);

TRACE_EVENT(dax_kmem_block,
	    TP_PROTO(const char *dev, u64 addr, const char *op, int err),
	    TP_ARGS(dev, addr, op, err),
	    TP_STRUCT__entry(__string(dev, dev)
			     __field(u64, addr)
			     __string(op, op)
			     __field(int, err)),
	    TP_fast_assign(__assign_str(dev);
			   __entry->addr = addr;
			   __assign_str(op);
			   __entry->err = err;),
	    TP_printk("%s: %s block %#llx err=%d", __get_str(dev),
		      __get_str(op), __entry->addr, __entry->err)
);

TRACE_EVENT(dax_kmem_loss,
	    TP_PROTO(const char *dev, const char *loss, u64 off, u64 len,
		     int mf_flags),
	    TP_ARGS(dev, loss, off, len, mf_flags),
	    TP_STRUCT__entry(__string(dev, dev)
			     __string(loss, loss)
			     __field(u64, off)
			     __field(u64, len)
			     __field(int, mf_flags)),
	    TP_fast_assign(__assign_str(dev);
			   __assign_str(loss);
			   __entry->off = off;
			   __entry->len = len;
			   __entry->mf_flags = mf_flags;),
	    TP_printk("%s: loss=%s off=%#llx len=%#llx mf_flags=%#x",
		      __get_str(dev), __get_str(loss), __entry->off,
		      __entry->len, __entry->mf_flags)
);

#endif /* _TRACE_DAX_KMEM_H */

/* This part must be outside protection */
#include <trace/define_trace.h>
