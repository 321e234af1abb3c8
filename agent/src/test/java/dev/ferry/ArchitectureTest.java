package dev.ferry;

import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.junit.AnalyzeClasses;
import com.tngtech.archunit.junit.ArchTest;
import com.tngtech.archunit.lang.ArchRule;

import java.lang.foreign.Linker;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaAccess.Predicates.target;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.assignableTo;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.core.domain.properties.HasName.Predicates.name;
import static com.tngtech.archunit.core.domain.properties.HasOwner.Predicates.With.owner;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The rules of the code base's shape, checked over the compiled main classes
 * (tests may reach across packages; the product may not).
 * ArchitectureRulesCatchViolationsTest shows the rules that pass today can fail.
 */
@AnalyzeClasses(packages = "dev.ferry", importOptions = ImportOption.DoNotIncludeTests.class)
class ArchitectureTest {

    /** The two packages of raw FFM bindings, one per native library: libbpf.so.1 and libc. */
    static final String[] RAW_BINDINGS = {"dev.ferry.bpf.libbpf", "dev.ferry.linux"};

    /**
     * One slice per package under {@code root}, sub-packages counted with their
     * parent: {@code bpf.libbpf} is the raw layer of {@code bpf} and used by
     * nothing else, so a cycle between the two would stay inside one domain. That
     * they do not form one is a rule of its own,
     * {@link #rawLibbpfBindingsDependOnNoOtherFerryCode}.
     */
    static ArchRule packagesFormNoCycles(String root) {
        return slices().matching(root + ".(*)..").namingSlices("$1")
                .should().beFreeOfCycles()
                .because("a package that depends on its dependants cannot be read, tested or changed on its own");
    }

    @ArchTest
    static final ArchRule ferryPackagesDependOnEachOtherWithoutCycles = packagesFormNoCycles("dev.ferry");

    @ArchTest
    static final ArchRule cniEndpointIpamAndDatapathDoNotUseNetty = noClasses()
            .that().resideInAnyPackage("dev.ferry.cni..", "dev.ferry.endpoint..", "dev.ferry.ipam..", "dev.ferry.datapath..")
            .should().dependOnClassesThat().resideInAPackage("io.netty..")
            .because("the socket transport lives in dev.ferry.api; the domain answers in its own types");

    @ArchTest
    static final ArchRule cniEndpointIpamAndDatapathDoNotKnowTheSocketApi = noClasses()
            .that().resideInAnyPackage("dev.ferry.cni..", "dev.ferry.endpoint..", "dev.ferry.ipam..", "dev.ferry.datapath..")
            .should().dependOnClassesThat().resideInAPackage("dev.ferry.api..")
            .because("the socket API calls the domain, never the other way round (HTTP statuses belong to the API)");

    /**
     * dev.ferry.linux holds libc's downcalls (open, setns, socket, ...) because
     * namespaces and netlink need them without anything of BPF; bpf.libbpf holds
     * libbpf's. The handle factories there are package-private, so calling
     * {@code Linker.downcallHandle} is the only way to hold a downcall handle.
     */
    @ArchTest
    static final ArchRule onlyTheRawBindingPackagesMakeDowncallHandles = noClasses()
            .that().resideOutsideOfPackages(RAW_BINDINGS)
            .should().callMethodWhere(target(owner(assignableTo(Linker.class))).and(target(name("downcallHandle"))))
            .because("native calls go through one binding class per library, each checked against its C header");

    /**
     * Issue 14: the masquerade table had two writers, the cluster watch's updates
     * and a periodic rewrite on a thread of its own, and a rewrite that read the
     * pod CIDRs before an update and wrote them after put the older set back. One
     * class writes it, on one thread, always the latest set.
     */
    @ArchTest
    static final ArchRule onlyMasqueradeWriterWritesTheMasqueradeTable = noClasses()
            .that().doNotHaveFullyQualifiedName("dev.ferry.masquerade.MasqueradeWriter")
            .should().callMethodWhere(target(owner(assignableTo("dev.ferry.masquerade.Masquerade"))))
            .because("a second writer of a piece of kernel state can undo a newer write of the first");

    @ArchTest
    static final ArchRule rawLibbpfBindingsDependOnNoOtherFerryCode = noClasses()
            .that().resideInAPackage("dev.ferry.bpf.libbpf..")
            .should().dependOnClassesThat(resideInAPackage("dev.ferry..").and(not(resideInAPackage("dev.ferry.bpf.libbpf.."))))
            .because("the raw bindings mirror libbpf's C API only; dev.ferry.bpf builds the typed layer on them");
}
