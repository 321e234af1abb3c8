package dev.ferry.bpf.libbpf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Raw bindings to libbpf's bpf.h (thin wrappers of the bpf(2) commands) and the
 * uapi constants they take. Every function returns a non-negative result or
 * -errno (libbpf 1.x), so none needs errno captured.
 */
public final class Bpf {
    private Bpf() {}

    // BPF_MAP_UPDATE_ELEM flags
    public static final long BPF_ANY = 0;
    public static final long BPF_NOEXIST = 1;
    public static final long BPF_EXIST = 2;

    // enum bpf_map_type: the types Ferry declares
    public static final int BPF_MAP_TYPE_HASH = 1;
    public static final int BPF_MAP_TYPE_ARRAY = 2;
    public static final int BPF_MAP_TYPE_PERCPU_HASH = 5;
    public static final int BPF_MAP_TYPE_PERCPU_ARRAY = 6;
    public static final int BPF_MAP_TYPE_LRU_HASH = 9;
    public static final int BPF_MAP_TYPE_LRU_PERCPU_HASH = 10;
    public static final int BPF_MAP_TYPE_LPM_TRIE = 11;
    public static final int BPF_MAP_TYPE_PERCPU_CGROUP_STORAGE = 21;

    // enum bpf_attach_type / bpf_link_type: TCX arrived in Linux 6.6, after the 6.1 uapi headers we build with.
    public static final int BPF_TCX_INGRESS = 46;
    public static final int BPF_TCX_EGRESS = 47;
    public static final int BPF_LINK_TYPE_TCX = 11;

    public static final int BPF_OBJ_NAME_LEN = 16;

    // int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags);
    private static final MethodHandle bpf_map_update_elem = Libbpf.downcall("bpf_map_update_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG));

    public static int bpf_map_update_elem(int fd, MemorySegment key, MemorySegment value, long flags) {
        try {
            return (int) bpf_map_update_elem.invokeExact(fd, key, value, flags);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_map_lookup_elem(int fd, const void *key, void *value);
    private static final MethodHandle bpf_map_lookup_elem = Libbpf.downcall("bpf_map_lookup_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_map_lookup_elem(int fd, MemorySegment key, MemorySegment value) {
        try {
            return (int) bpf_map_lookup_elem.invokeExact(fd, key, value);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_map_delete_elem(int fd, const void *key);
    private static final MethodHandle bpf_map_delete_elem = Libbpf.downcall("bpf_map_delete_elem",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    public static int bpf_map_delete_elem(int fd, MemorySegment key) {
        try {
            return (int) bpf_map_delete_elem.invokeExact(fd, key);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_map_get_next_key(int fd, const void *key, void *next_key);
    private static final MethodHandle bpf_map_get_next_key = Libbpf.downcall("bpf_map_get_next_key",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_map_get_next_key(int fd, MemorySegment key, MemorySegment nextKey) {
        try {
            return (int) bpf_map_get_next_key.invokeExact(fd, key, nextKey);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_obj_pin(int fd, const char *pathname);
    private static final MethodHandle bpf_obj_pin = Libbpf.downcall("bpf_obj_pin",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    public static int bpf_obj_pin(int fd, MemorySegment pathname) {
        try {
            return (int) bpf_obj_pin.invokeExact(fd, pathname);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_obj_get(const char *pathname);
    private static final MethodHandle bpf_obj_get = Libbpf.downcall("bpf_obj_get",
            FunctionDescriptor.of(JAVA_INT, ADDRESS));

    public static int bpf_obj_get(MemorySegment pathname) {
        try {
            return (int) bpf_obj_get.invokeExact(pathname);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_obj_get_info_by_fd(int bpf_fd, void *info, __u32 *info_len);
    private static final MethodHandle bpf_obj_get_info_by_fd = Libbpf.downcall("bpf_obj_get_info_by_fd",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS));

    public static int bpf_obj_get_info_by_fd(int bpfFd, MemorySegment info, MemorySegment infoLen) {
        try {
            return (int) bpf_obj_get_info_by_fd.invokeExact(bpfFd, info, infoLen);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_link_create(int prog_fd, int target_fd, enum bpf_attach_type attach_type,
    //                     const struct bpf_link_create_opts *opts);
    private static final MethodHandle bpf_link_create = Libbpf.downcall("bpf_link_create",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    public static int bpf_link_create(int progFd, int targetFd, int attachType, MemorySegment opts) {
        try {
            return (int) bpf_link_create.invokeExact(progFd, targetFd, attachType, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_link_update(int link_fd, int new_prog_fd, const struct bpf_link_update_opts *opts);
    private static final MethodHandle bpf_link_update = Libbpf.downcall("bpf_link_update",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS));

    public static int bpf_link_update(int linkFd, int newProgFd, MemorySegment opts) {
        try {
            return (int) bpf_link_update.invokeExact(linkFd, newProgFd, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_link_detach(int link_fd);
    private static final MethodHandle bpf_link_detach = Libbpf.downcall("bpf_link_detach",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT));

    public static int bpf_link_detach(int linkFd) {
        try {
            return (int) bpf_link_detach.invokeExact(linkFd);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }

    // int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts);
    private static final MethodHandle bpf_prog_test_run_opts = Libbpf.downcall("bpf_prog_test_run_opts",
            FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS));

    public static int bpf_prog_test_run_opts(int progFd, MemorySegment opts) {
        try {
            return (int) bpf_prog_test_run_opts.invokeExact(progFd, opts);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
