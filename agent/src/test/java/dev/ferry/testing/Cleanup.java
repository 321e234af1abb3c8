package dev.ferry.testing;

/** Runs every clean-up step even when one fails, then reports the first failure with the others suppressed. */
public final class Cleanup {
    private Cleanup() {}

    @FunctionalInterface
    public interface Step {
        void run() throws Exception;
    }

    public static void all(Step... steps) throws Exception {
        Exception first = null;
        for (Step step : steps) {
            try {
                step.run();
            } catch (Exception e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }
}
