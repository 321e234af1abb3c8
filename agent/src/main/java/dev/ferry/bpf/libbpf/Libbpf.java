package dev.ferry.bpf.libbpf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw bindings to the libbpf.h functions Ferry calls (the system's libbpf.so.1,
 * 1.1), in jextract's style: one handle per function with its descriptor beside
 * it, a wrapper named after the C function. Wrappers return the raw result:
 * int functions return -errno (libbpf 1.x), pointer functions return NULL and
 * leave errno in the call-state segment passed first ({@code Libc.callState}).
 * The low-level syscall wrappers of bpf.h live in {@link Bpf}.
 */
public final class Libbpf {
    private Libbpf() {}

    static final Linker LINKER = Linker.nativeLinker();
    // Loaded once for the life of the JVM: libbpf keeps global state (print callback, feature cache).
    static final SymbolLookup LIBBPF = load("libbpf.so.1");

    /** The library, or a failure that tells the operator what to install (the agent prints it as one line). */
    static SymbolLookup load(String library) {
        try {
            return SymbolLookup.libraryLookup(library, Arena.global());
        } catch (IllegalArgumentException e) {
            throw new IllegalStateException("failed to load " + library + " (install libbpf >= 1.1, Debian's libbpf1): "
                    + e.getMessage(), e);
        }
    }

    static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
        MemorySegment symbol = LIBBPF.find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libbpf.so.1 has no symbol " + name));
        return LINKER.downcallHandle(symbol, descriptor, options);
    }

    static MethodHandle capturingErrno(String name, FunctionDescriptor descriptor) {
        return downcall(name, descriptor, Linker.Option.captureCallState("errno"));
    }

    // enum libbpf_print_level
    public static final int LIBBPF_WARN = 0;
    public static final int LIBBPF_INFO = 1;
    public static final int LIBBPF_DEBUG = 2;

    // enum bpf_tc_attach_point
    public static final int BPF_TC_INGRESS = 1;
    public static final int BPF_TC_EGRESS = 1 << 1;

    // enum bpf_tc_flags
    public static final int BPF_TC_F_REPLACE = 1;

    // typedef int (*libbpf_print_fn_t)(enum libbpf_print_level level, const char *, va_list ap);
    // On x86-64 va_list is an array type, so the callee receives a pointer to it.
    public static final FunctionDescriptor libbpf_print_fn_t = FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS);

    // libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn);
    private static final MethodHandle libbpf_set_print = downcall("libbpf_set_print",
            FunctionDescriptor.of(ADDRESS, ADDRESS));

    public static MemorySegment libbpf_set_print(MemorySegment fn) {
        try {
            return (MemorySegment) libbpf_set_print.invokeExact(fn);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int libbpf_strerror(int err, char *buf, size_t size);
    private static final MethodHandle libbpf_strerror = downcall("libbpf_strerror",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_LONG));

    public static int libbpf_strerror(int err, MemorySegment buf, long size) {
        try {
            return (int) libbpf_strerror.invokeExact(err, buf, size);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int libbpf_num_possible_cpus(void);
    private static final MethodHandle libbpf_num_possible_cpus = downcall("libbpf_num_possible_cpus",
            FunctionDescriptor.of(JAVA_INT));

    public static int libbpf_num_possible_cpus() {
        try {
            return (int) libbpf_num_possible_cpus.invokeExact();
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz,
    //                                         const struct bpf_object_open_opts *opts);
    private static final MethodHandle bpf_object__open_mem = capturingErrno("bpf_object__open_mem",
            FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));

    public static MemorySegment bpf_object__open_mem(MemorySegment state, MemorySegment objBuf, long objBufSz,
                                                     MemorySegment opts) {
        try {
            return (MemorySegment) bpf_object__open_mem.invokeExact(state, objBuf, objBufSz, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_object__load(struct bpf_object *obj);
    private static final MethodHandle bpf_object__load = downcall("bpf_object__load",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_object__load(MemorySegment obj) {
        try {
            return (int) bpf_object__load.invokeExact(obj);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // void bpf_object__close(struct bpf_object *object);
    private static final MethodHandle bpf_object__close = downcall("bpf_object__close",
            FunctionDescriptor.ofVoid(ADDRESS));

    public static void bpf_object__close(MemorySegment obj) {
        try {
            bpf_object__close.invokeExact(obj);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name);
    private static final MethodHandle bpf_object__find_program_by_name = capturingErrno(
            "bpf_object__find_program_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));

    public static MemorySegment bpf_object__find_program_by_name(MemorySegment state, MemorySegment obj,
                                                                 MemorySegment name) {
        try {
            return (MemorySegment) bpf_object__find_program_by_name.invokeExact(state, obj, name);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_program__fd(const struct bpf_program *prog);
    private static final MethodHandle bpf_program__fd = downcall("bpf_program__fd",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_program__fd(MemorySegment prog) {
        try {
            return (int) bpf_program__fd.invokeExact(prog);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name);
    private static final MethodHandle bpf_object__find_map_by_name = capturingErrno(
            "bpf_object__find_map_by_name", FunctionDescriptor.of(ADDRESS, ADDRESS, ADDRESS));

    public static MemorySegment bpf_object__find_map_by_name(MemorySegment state, MemorySegment obj,
                                                             MemorySegment name) {
        try {
            return (MemorySegment) bpf_object__find_map_by_name.invokeExact(state, obj, name);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_map__fd(const struct bpf_map *map);
    private static final MethodHandle bpf_map__fd = downcall("bpf_map__fd",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_map__fd(MemorySegment map) {
        try {
            return (int) bpf_map__fd.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // const char *bpf_map__name(const struct bpf_map *map);
    private static final MethodHandle bpf_map__name = downcall("bpf_map__name",
            FunctionDescriptor.of(ADDRESS, ADDRESS));

    public static MemorySegment bpf_map__name(MemorySegment map) {
        try {
            return (MemorySegment) bpf_map__name.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // enum bpf_map_type bpf_map__type(const struct bpf_map *map);
    private static final MethodHandle bpf_map__type = downcall("bpf_map__type",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_map__type(MemorySegment map) {
        try {
            return (int) bpf_map__type.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // __u32 bpf_map__key_size(const struct bpf_map *map);
    private static final MethodHandle bpf_map__key_size = downcall("bpf_map__key_size",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_map__key_size(MemorySegment map) {
        try {
            return (int) bpf_map__key_size.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // __u32 bpf_map__value_size(const struct bpf_map *map);
    private static final MethodHandle bpf_map__value_size = downcall("bpf_map__value_size",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_map__value_size(MemorySegment map) {
        try {
            return (int) bpf_map__value_size.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // __u32 bpf_map__max_entries(const struct bpf_map *map);
    private static final MethodHandle bpf_map__max_entries = downcall("bpf_map__max_entries",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_map__max_entries(MemorySegment map) {
        try {
            return (int) bpf_map__max_entries.invokeExact(map);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_tc_hook_create(struct bpf_tc_hook *hook);
    private static final MethodHandle bpf_tc_hook_create = downcall("bpf_tc_hook_create",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_tc_hook_create(MemorySegment hook) {
        try {
            return (int) bpf_tc_hook_create.invokeExact(hook);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_tc_hook_destroy(struct bpf_tc_hook *hook);
    private static final MethodHandle bpf_tc_hook_destroy = downcall("bpf_tc_hook_destroy",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_tc_hook_destroy(MemorySegment hook) {
        try {
            return (int) bpf_tc_hook_destroy.invokeExact(hook);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_tc_attach(const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts);
    private static final MethodHandle bpf_tc_attach = downcall("bpf_tc_attach",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_tc_attach(MemorySegment hook, MemorySegment opts) {
        try {
            return (int) bpf_tc_attach.invokeExact(hook, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_tc_detach(const struct bpf_tc_hook *hook, const struct bpf_tc_opts *opts);
    private static final MethodHandle bpf_tc_detach = downcall("bpf_tc_detach",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_tc_detach(MemorySegment hook, MemorySegment opts) {
        try {
            return (int) bpf_tc_detach.invokeExact(hook, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_tc_query(const struct bpf_tc_hook *hook, struct bpf_tc_opts *opts);
    private static final MethodHandle bpf_tc_query = downcall("bpf_tc_query",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_tc_query(MemorySegment hook, MemorySegment opts) {
        try {
            return (int) bpf_tc_query.invokeExact(hook, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // typedef int (*ring_buffer_sample_fn)(void *ctx, void *data, size_t size);
    public static final FunctionDescriptor ring_buffer_sample_fn = FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);

    // struct ring_buffer *ring_buffer__new(int map_fd, ring_buffer_sample_fn sample_cb, void *ctx,
    //                                      const struct ring_buffer_opts *opts);
    private static final MethodHandle ring_buffer__new = capturingErrno("ring_buffer__new",
            FunctionDescriptor.of(ADDRESS, JAVA_INT, ADDRESS, ADDRESS, ADDRESS));

    public static MemorySegment ring_buffer__new(MemorySegment state, int mapFd, MemorySegment sampleCb, MemorySegment ctx,
                                                 MemorySegment opts) {
        try {
            return (MemorySegment) ring_buffer__new.invokeExact(state, mapFd, sampleCb, ctx, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int ring_buffer__poll(struct ring_buffer *rb, int timeout_ms);
    private static final MethodHandle ring_buffer__poll = downcall("ring_buffer__poll",
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));

    public static int ring_buffer__poll(MemorySegment rb, int timeoutMs) {
        try {
            return (int) ring_buffer__poll.invokeExact(rb, timeoutMs);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int ring_buffer__consume(struct ring_buffer *rb);
    private static final MethodHandle ring_buffer__consume = downcall("ring_buffer__consume",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int ring_buffer__consume(MemorySegment rb) {
        try {
            return (int) ring_buffer__consume.invokeExact(rb);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // void ring_buffer__free(struct ring_buffer *rb);
    private static final MethodHandle ring_buffer__free = downcall("ring_buffer__free",
            FunctionDescriptor.ofVoid(ADDRESS));

    public static void ring_buffer__free(MemorySegment rb) {
        try {
            ring_buffer__free.invokeExact(rb);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
