package dev.ferry.architecture.downcall;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.JAVA_INT;

/** A downcall handle made outside the raw binding packages, for ArchitectureRulesCatchViolationsTest. */
public final class StrayBinding {
    private StrayBinding() {}

    public static MethodHandle getpid() {
        Linker linker = Linker.nativeLinker();
        return linker.downcallHandle(linker.defaultLookup().find("getpid").orElseThrow(), FunctionDescriptor.of(JAVA_INT));
    }
}
