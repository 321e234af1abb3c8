package dev.ferry.netlink;

import static dev.ferry.netlink.Uapi.*;

/** RTM_*RULE requests for fwmark rules, and the parsing of their replies. */
final class RuleMessages {
    private RuleMessages() {}

    static byte[] add(Rule rule) {
        return body(new MessageBuilder(RTM_NEWRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL), rule);
    }

    static byte[] delete(Rule rule) {
        return body(new MessageBuilder(RTM_DELRULE, NLM_F_REQUEST | NLM_F_ACK), rule);
    }

    static byte[] dump(Family family) {
        return new MessageBuilder(RTM_GETRULE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_DUMP)
                .u8(family.af).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u32(0).build();
    }

    /** struct fib_rule_hdr { u8 family, dst_len, src_len, tos, table, res1, res2, action; u32 flags; } */
    private static byte[] body(MessageBuilder m, Rule rule) {
        return m.u8(rule.family().af).u8(0).u8(0).u8(0).u8(0).u8(0).u8(0).u8(FR_ACT_TO_TBL).u32(0)
                .attrU32(FRA_PRIORITY, rule.priority())
                .attrU32(FRA_FWMARK, rule.fwmark())
                .attrU32(FRA_FWMASK, rule.fwmask())
                .attrU32(FRA_TABLE, rule.table())
                .attr(FRA_PROTOCOL, new byte[]{(byte) rule.protocol()})
                .build();
    }

    /** Null for what is not an fwmark rule to a table. */
    static Rule parse(Message m) {
        Family family = Family.ofAf(m.u8(0));
        if (family == null || m.u8(7) != FR_ACT_TO_TBL) {
            return null;
        }
        Attributes a = m.attributes(FIB_RULE_HDR_LEN);
        if (a.u32(FRA_FWMARK).isEmpty()) {
            return null;
        }
        int protocol = a.bytes(FRA_PROTOCOL).filter(b -> b.length == 1).map(b -> Byte.toUnsignedInt(b[0])).orElse(0);
        return new Rule(family, a.u32(FRA_FWMARK).getAsInt(), a.u32(FRA_FWMASK).orElse(-1),
                a.u32(FRA_TABLE).orElse(m.u8(4)), a.u32(FRA_PRIORITY).orElse(0), protocol);
    }
}
