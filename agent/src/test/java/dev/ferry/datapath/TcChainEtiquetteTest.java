package dev.ferry.datapath;

/** Chain etiquette with Ferry's programs and the other tool's as tc filters on clsact (the other at a later priority). */
class TcChainEtiquetteTest extends ChainEtiquetteTest {
    @Override
    AttachMode mode() {
        return AttachMode.TC;
    }

    @Override
    String linkPrefix() {
        return "fct";
    }
}
