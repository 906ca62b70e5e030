// What nft 1.0.6 printed (captured on this machine) for the tables rendered from
// pure-test inputs: IPv4 with policy routing (grace_keep, from_2, mangle) and
// the ip6 table of a node with a public IPv6. Used to prove the layout read
// back equals the layout rendered.

export const LISTED_IP_POLICY = `table ip pvemigrate {
	map fwd_tcp {
		type inet_service : ipv4_addr . inet_service
		elements = { 25 : 10.10.1.101 . 25, 2222 : 10.10.1.101 . 22 }
	}

	map grace_tcp {
		type inet_service : ipv4_addr . inet_service
		flags timeout
	}

	map fwd_udp {
		type inet_service : ipv4_addr . inet_service
	}

	map grace_udp {
		type inet_service : ipv4_addr . inet_service
		flags timeout
		elements = { 51820 timeout 1m expires 59s976ms : 10.10.1.102 . 51820 }
	}

	set grace_keep {
		type ipv4_addr
		elements = { 10.10.1.102 }
	}

	set from_2 {
		type ipv4_addr
		elements = { 10.10.1.103 }
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname != "eno1" ip daddr 203.0.113.10 ct mark set ct mark | 0x00200000
		ip daddr 203.0.113.10 dnat ip to tcp dport map @fwd_tcp
		ip daddr 203.0.113.10 dnat ip to udp dport map @fwd_udp
		ip daddr 203.0.113.10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip to tcp dport map @grace_tcp
		ip daddr 203.0.113.10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip to udp dport map @grace_udp
	}

	chain output {
		type nat hook output priority -100; policy accept;
		ip daddr 203.0.113.10 dnat ip to tcp dport map @fwd_tcp
		ip daddr 203.0.113.10 dnat ip to udp dport map @fwd_udp
		ip daddr 203.0.113.10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip to tcp dport map @grace_tcp
		ip daddr 203.0.113.10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip to udp dport map @grace_udp
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.10.0.0/16 oifname "eno1" masquerade
		ct mark & 0x00200000 != 0x00000000 masquerade
		ct mark & 0x00100000 != 0x00000000 ip daddr != @grace_keep masquerade
	}

	chain mangle {
		type filter hook prerouting priority mangle; policy accept;
		iifname != "eno1" ip saddr != 10.10.0.0/16 ip daddr @from_2 ct mark set ct mark | 0x02000000
		ct direction reply ct mark != 0x00000000/8 meta mark set ct mark & 0xff000000
	}
}
`;

export const LISTED_IP6 = `table ip6 pvemigrate {
	map fwd_tcp {
		type inet_service : ipv6_addr . inet_service
		elements = { 25 : fd10:10::101 . 25 }
	}

	map grace_tcp {
		type inet_service : ipv6_addr . inet_service
		flags timeout
	}

	map fwd_udp {
		type inet_service : ipv6_addr . inet_service
	}

	map grace_udp {
		type inet_service : ipv6_addr . inet_service
		flags timeout
		elements = { 51820 timeout 1m expires 59s972ms : fd10:10::102 . 51820 }
	}

	chain prerouting {
		type nat hook prerouting priority dstnat; policy accept;
		iifname != "eno1" ip6 daddr 2001:db8::10 ct mark set ct mark | 0x00200000
		ip6 daddr 2001:db8::10 dnat ip6 to tcp dport map @fwd_tcp
		ip6 daddr 2001:db8::10 dnat ip6 to udp dport map @fwd_udp
		ip6 daddr 2001:db8::10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip6 to tcp dport map @grace_tcp
		ip6 daddr 2001:db8::10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip6 to udp dport map @grace_udp
	}

	chain output {
		type nat hook output priority -100; policy accept;
		ip6 daddr 2001:db8::10 dnat ip6 to tcp dport map @fwd_tcp
		ip6 daddr 2001:db8::10 dnat ip6 to udp dport map @fwd_udp
		ip6 daddr 2001:db8::10 tcp dport @grace_tcp ct mark set ct mark | 0x00100000 dnat ip6 to tcp dport map @grace_tcp
		ip6 daddr 2001:db8::10 udp dport @grace_udp ct mark set ct mark | 0x00100000 dnat ip6 to udp dport map @grace_udp
	}

	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip6 saddr fd10:10::/48 oifname "eno1" masquerade
		ct mark & 0x00200000 != 0x00000000 masquerade
		ct mark & 0x00100000 != 0x00000000 masquerade
	}
}
`;
