/* brokerd's configuration keys (user/apps/brokerd/config.c): defaults,
 * every key, the ranges and malformed values refused. On the host
 * harness (ktharness.h), TAP on stdout. */
#include <stdio.h>
#include <string.h>

#include "apps/brokerd/config.h"
#include "ktharness.h"

static bool set(struct brokerd_config *c, const char *k, const char *v)
{
	return brokerd_config_set(c, k, strlen(k), v, strlen(v));
}

static int parse(const char *text, struct brokerd_config *c)
{
	brokerd_config_default(c);
	return brokerd_config_parse(text, strlen(text), c);
}

static void defaults(void)
{
	struct brokerd_config c;

	brokerd_config_default(&c);
	CHECK(c.dhcp && c.port == 9092 && c.partitions == 4 && c.flush_ms == 1000);
	CHECK(c.arena_mib == 32 && !c.polled && !c.format && !c.copy_fetch && !c.adv_host[0]);
}

static void the_make_run_manifest_lines(void)
{
	struct brokerd_config c;

	CHECK(parse("address=10.0.2.15/24\ngateway=10.0.2.2\nport=9092\n"
	            "advertise=127.0.0.1:9092\npartitions=4\narena-mib=32\n",
	            &c) == 0);
	CHECK(!c.dhcp && c.addr == 0x0a00020f && c.mask == 0xffffff00 && c.gw == 0x0a000202);
	CHECK(!strcmp(c.adv_host, "127.0.0.1") && c.adv_port == 9092);
	CHECK(parse("  # comment\n\n mode = polled \nformat=force\nzero-copy=off\nlog=debug\r\n",
	            &c) == 0);
	CHECK(c.polled && c.format && c.copy_fetch && c.log_level == 2);
	CHECK(parse("address=dhcp\nadvertise=kafka.example:19092\nflush-ms=5\n", &c) == 0);
	CHECK(c.dhcp && !strcmp(c.adv_host, "kafka.example") && c.adv_port == 19092 &&
	      c.flush_ms == 5);
	CHECK(parse("address=192.168.1.7\n", &c) == 0 && c.mask == 0xffffff00);
	CHECK(parse("address=10.1.2.3/8\n", &c) == 0 && c.mask == 0xff000000);
}

static void bad_values_refused_with_their_line(void)
{
	struct brokerd_config c;

	CHECK(parse("port=9092\nport=0\n", &c) == 2);
	CHECK(parse("port=65536\n", &c) == 1);
	CHECK(parse("port=12x\n", &c) == 1);
	CHECK(parse("port=\n", &c) == 1);
	CHECK(parse("partitions=0\n", &c) == 1);
	CHECK(parse("partitions=1025\n", &c) == 1);
	CHECK(parse("arena-mib=33\n", &c) == 1); /* whole 2 MiB chunks */
	CHECK(parse("arena-mib=4\n", &c) == 1);
	CHECK(parse("address=10.0.2\n", &c) == 1);
	CHECK(parse("address=10.0.2.256/24\n", &c) == 1);
	CHECK(parse("address=10.0.2.15/33\n", &c) == 1);
	CHECK(parse("address=10.0.2.15/24x\n", &c) == 1);
	CHECK(parse("address=0.0.0.0\n", &c) == 1);
	CHECK(parse("gateway=10.0.2.2 \n", &c) == 0); /* trailing blanks trimmed */
	CHECK(parse("gateway=10.0.2.2.\n", &c) == 1);
	CHECK(parse("advertise=127.0.0.1\n", &c) == 1);
	CHECK(parse("advertise=:9092\n", &c) == 1);
	CHECK(parse("advertise=a b:9092\n", &c) == 1);
	CHECK(parse("advertise=h:0\n", &c) == 1);
	CHECK(
	    parse("advertise=0123456789012345678901234567890123456789012345678901234567890123:1\n",
	          &c) == 1); /* 64 bytes: no room for the NUL */
	CHECK(parse("mode=fast\n", &c) == 1);
	CHECK(parse("log=verbose\n", &c) == 1);
	CHECK(parse("colour=blue\n", &c) == 1);
	CHECK(parse("port 9092\n", &c) == 1);
	CHECK(parse("=9092\n", &c) == 1);
	CHECK(parse("flush-ms=99999999999\n", &c) == 1);
}

static void a_refused_value_leaves_the_key_alone(void)
{
	struct brokerd_config c;

	brokerd_config_default(&c);
	CHECK(set(&c, "port", "7000") && c.port == 7000);
	CHECK(!set(&c, "port", "70000") && c.port == 7000);
	CHECK(set(&c, "advertise", "h:1") && !set(&c, "advertise", "h2:") &&
	      !strcmp(c.adv_host, "h") && c.adv_port == 1);
}

int main(int argc, char **argv)
{
	kt_group = "serve-unit";
	kt_add("defaults", defaults);
	kt_add("the_make_run_manifest_lines", the_make_run_manifest_lines);
	kt_add("bad_values_refused_with_their_line", bad_values_refused_with_their_line);
	kt_add("a_refused_value_leaves_the_key_alone", a_refused_value_leaves_the_key_alone);
	return kt_main(NULL, 0, argc, argv);
}
