package dev.ferry.bpf.libbpf;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/** The libc formatting function libbpf's print callback needs (dev.ferry.linux.Libc has the rest of libc). */
public final class Stdio {
    private Stdio() {}

    // int vsnprintf(char *str, size_t size, const char *format, va_list ap);
    // va_list is passed as a pointer on x86-64 (an array type decays), so ADDRESS fits it there.
    private static final MethodHandle vsnprintf = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("vsnprintf").orElseThrow(),
            FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, ADDRESS, ADDRESS));

    public static int vsnprintf(MemorySegment str, long size, MemorySegment format, MemorySegment ap) {
        try {
            return (int) vsnprintf.invokeExact(str, size, format, ap);
        } catch (Throwable t) {
            throw new AssertionError(t);
        }
    }
}
