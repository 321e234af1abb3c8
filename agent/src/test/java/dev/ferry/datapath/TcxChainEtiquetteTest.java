package dev.ferry.datapath;

/** Chain etiquette with Ferry's programs and the other tool's as TCX links (the other appended). */
class TcxChainEtiquetteTest extends ChainEtiquetteTest {
    @Override
    AttachMode mode() {
        return AttachMode.TCX;
    }

    @Override
    String linkPrefix() {
        return "fcx";
    }
}
