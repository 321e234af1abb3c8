package dev.ferry;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.lang.EvaluationResult;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * ArchitectureTest's rules against small deliberate violations in
 * dev.ferry.architecture (test classes, which the rules' own import leaves out):
 * a rule that passes on the product must be one that can fail.
 */
class ArchitectureRulesCatchViolationsTest {
    private static final JavaClasses FIXTURES = new ClassFileImporter().importPackages("dev.ferry.architecture");

    @Test
    void theCycleRuleReportsTwoPackagesThatDependOnEachOther() {
        EvaluationResult result = ArchitectureTest.packagesFormNoCycles("dev.ferry.architecture.cycle").evaluate(FIXTURES);

        assertTrue(result.hasViolation(), "a <-> b is a cycle");
        String report = result.getFailureReport().toString();
        assertTrue(report.contains("Cycle detected: a -> ") && report.contains("b -> "), report);
    }

    @Test
    void theDowncallRuleReportsAHandleMadeOutsideTheRawBindingPackages() {
        EvaluationResult result = ArchitectureTest.onlyTheRawBindingPackagesMakeDowncallHandles.evaluate(FIXTURES);

        assertTrue(result.hasViolation(), "StrayBinding calls Linker.downcallHandle");
        String report = result.getFailureReport().toString();
        assertTrue(report.contains("StrayBinding.getpid()") && report.contains("Linker.downcallHandle"), report);
    }
}
