/*
 * Prints the size of every struct dev.ferry.bpf.libbpf lays out, and the offset
 * and size of each named member, from the headers the agent is built against
 * (libbpf 1.1, uapi 6.1). LibbpfLayoutsTest compiles it and compares.
 * Line format: "struct SIZE" and "struct.member OFFSET SIZE".
 */
#include <stdio.h>
#include <stddef.h>
#include <bpf/libbpf.h>
#include <bpf/bpf.h>
#include <linux/bpf.h>

#define S(s) printf(#s " %zu\n", sizeof(struct s))
#define M(s, m) printf(#s "." #m " %zu %zu\n", offsetof(struct s, m), sizeof(((struct s *)0)->m))

int main(void)
{
	S(bpf_object_open_opts);
	M(bpf_object_open_opts, sz); M(bpf_object_open_opts, object_name); M(bpf_object_open_opts, relaxed_maps);
	M(bpf_object_open_opts, pin_root_path); M(bpf_object_open_opts, kconfig);
	M(bpf_object_open_opts, btf_custom_path); M(bpf_object_open_opts, kernel_log_buf);
	M(bpf_object_open_opts, kernel_log_size); M(bpf_object_open_opts, kernel_log_level);

	S(bpf_tc_hook);
	M(bpf_tc_hook, sz); M(bpf_tc_hook, ifindex); M(bpf_tc_hook, attach_point); M(bpf_tc_hook, parent);

	S(bpf_tc_opts);
	M(bpf_tc_opts, sz); M(bpf_tc_opts, prog_fd); M(bpf_tc_opts, flags); M(bpf_tc_opts, prog_id);
	M(bpf_tc_opts, handle); M(bpf_tc_opts, priority);

	S(bpf_test_run_opts);
	M(bpf_test_run_opts, sz); M(bpf_test_run_opts, data_in); M(bpf_test_run_opts, data_out);
	M(bpf_test_run_opts, data_size_in); M(bpf_test_run_opts, data_size_out); M(bpf_test_run_opts, ctx_in);
	M(bpf_test_run_opts, ctx_out); M(bpf_test_run_opts, ctx_size_in); M(bpf_test_run_opts, ctx_size_out);
	M(bpf_test_run_opts, retval); M(bpf_test_run_opts, repeat); M(bpf_test_run_opts, duration);
	M(bpf_test_run_opts, flags); M(bpf_test_run_opts, cpu); M(bpf_test_run_opts, batch_size);

	S(bpf_map_info);
	M(bpf_map_info, type); M(bpf_map_info, id); M(bpf_map_info, key_size); M(bpf_map_info, value_size);
	M(bpf_map_info, max_entries); M(bpf_map_info, map_flags); M(bpf_map_info, name); M(bpf_map_info, ifindex);
	M(bpf_map_info, btf_vmlinux_value_type_id); M(bpf_map_info, netns_dev); M(bpf_map_info, netns_ino);
	M(bpf_map_info, btf_id); M(bpf_map_info, btf_key_type_id); M(bpf_map_info, btf_value_type_id);
	M(bpf_map_info, map_extra);

	S(bpf_prog_info);
	M(bpf_prog_info, type); M(bpf_prog_info, id); M(bpf_prog_info, tag); M(bpf_prog_info, jited_prog_len);
	M(bpf_prog_info, xlated_prog_len); M(bpf_prog_info, jited_prog_insns); M(bpf_prog_info, xlated_prog_insns);
	M(bpf_prog_info, load_time); M(bpf_prog_info, created_by_uid); M(bpf_prog_info, nr_map_ids);
	M(bpf_prog_info, map_ids); M(bpf_prog_info, name); M(bpf_prog_info, ifindex);
	/* gpl_compatible is a bitfield: no offsetof; it is the word after ifindex. */
	printf("bpf_prog_info.gpl_compatible %zu 4\n", offsetof(struct bpf_prog_info, ifindex) + 4);
	M(bpf_prog_info, netns_dev); M(bpf_prog_info, netns_ino); M(bpf_prog_info, nr_jited_ksyms);
	M(bpf_prog_info, nr_jited_func_lens); M(bpf_prog_info, jited_ksyms); M(bpf_prog_info, jited_func_lens);
	M(bpf_prog_info, btf_id); M(bpf_prog_info, func_info_rec_size); M(bpf_prog_info, func_info);
	M(bpf_prog_info, nr_func_info); M(bpf_prog_info, nr_line_info); M(bpf_prog_info, line_info);
	M(bpf_prog_info, jited_line_info); M(bpf_prog_info, nr_jited_line_info); M(bpf_prog_info, line_info_rec_size);
	M(bpf_prog_info, jited_line_info_rec_size); M(bpf_prog_info, nr_prog_tags); M(bpf_prog_info, prog_tags);
	M(bpf_prog_info, run_time_ns); M(bpf_prog_info, run_cnt); M(bpf_prog_info, recursion_misses);
	M(bpf_prog_info, verified_insns); M(bpf_prog_info, attach_btf_obj_id); M(bpf_prog_info, attach_btf_id);

	S(bpf_link_info);
	M(bpf_link_info, type); M(bpf_link_info, id); M(bpf_link_info, prog_id);
	/* The anonymous union, measured through its first member's offset and the struct's end. */
	printf("bpf_link_info.u %zu %zu\n", offsetof(struct bpf_link_info, raw_tracepoint),
	       sizeof(struct bpf_link_info) - offsetof(struct bpf_link_info, raw_tracepoint));

	S(__sk_buff);
	M(__sk_buff, len); M(__sk_buff, pkt_type); M(__sk_buff, mark); M(__sk_buff, queue_mapping);
	M(__sk_buff, protocol); M(__sk_buff, vlan_present); M(__sk_buff, vlan_tci); M(__sk_buff, vlan_proto);
	M(__sk_buff, priority); M(__sk_buff, ingress_ifindex); M(__sk_buff, ifindex); M(__sk_buff, tc_index);
	M(__sk_buff, cb); M(__sk_buff, hash); M(__sk_buff, tc_classid); M(__sk_buff, data); M(__sk_buff, data_end);
	M(__sk_buff, napi_id); M(__sk_buff, family); M(__sk_buff, remote_ip4); M(__sk_buff, local_ip4);
	M(__sk_buff, remote_ip6); M(__sk_buff, local_ip6); M(__sk_buff, remote_port); M(__sk_buff, local_port);
	M(__sk_buff, data_meta); M(__sk_buff, flow_keys); M(__sk_buff, tstamp); M(__sk_buff, wire_len);
	M(__sk_buff, gso_segs); M(__sk_buff, sk); M(__sk_buff, gso_size); M(__sk_buff, tstamp_type);
	M(__sk_buff, hwtstamp);
	return 0;
}
