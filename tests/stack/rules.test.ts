// The pure rules shared by the configuration and the components, tested on their own.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { MIN_NODES_WITH_PODS, nodeInstanceTypes, spotInstanceFamilies, spotInstanceTypes } from "../../capacity";
import { contains, overlaps, parseCidr } from "../../cidr";
import { ConfigError } from "../../config-error";

describe("capacity.ts: node group capacity", () => {
    test("pods spread over two nodes", () => assert.equal(MIN_NODES_WITH_PODS, 2));
    test("on-demand offers the configured type only", () =>
        assert.deepEqual(nodeInstanceTypes("m5.large", "ON_DEMAND"), ["m5.large"]));
    test("spot offers the configured type first, then every family of the same shape", () => {
        assert.deepEqual(nodeInstanceTypes("t3.medium", "SPOT"), ["t3.medium", "t3a.medium", "t2.medium"]);
        assert.deepEqual(spotInstanceTypes("t3a.small"), ["t3a.small", "t3.small"]);
    });
    test("t2 joins only from medium up (t2.small has one vCPU where t3.small has two)", () =>
        assert.ok(!(spotInstanceTypes("t3.small") ?? []).includes("t2.small")));
    test("an unknown shape has no spot types, and a spot node group of it is refused", () => {
        assert.equal(spotInstanceTypes("x9.huge"), undefined);
        assert.throws(() => nodeInstanceTypes("x9.huge", "SPOT"), /no instance types of the same shape as x9.huge/);
    });
    test("the families are named for error messages", () =>
        assert.match(spotInstanceFamilies(), /^t3\/t3a micro\|small; /));
});

describe("cidr.ts: IPv4 blocks", () => {
    test("a canonical block parses", () => assert.equal(parseCidr("vpcCidr", "10.0.0.0/16").prefix, 16));
    for (const bad of ["10.1/16", "010.0.0.0/16", "10.0.0.0", "10.0.0.0/16/1", "10.0.0.0/33", "10.0.0.0/ 8"]) {
        test(`'${bad}' is refused with the key named`, () =>
            assert.throws(
                () => parseCidr("vpcCidr", bad),
                (error: Error) => error instanceof ConfigError && error.message.startsWith("config 'vpcCidr': "),
            ));
    }
    test("host bits set are refused with the network address", () =>
        assert.throws(() => parseCidr("vpcCidr", "10.0.1.0/16"), /network address is 10\.0\.0\.0\/16/));
    test("containment and overlap", () => {
        const vpc = parseCidr("k", "10.0.0.0/16");
        const subnet = parseCidr("k", "10.0.1.0/24");
        const other = parseCidr("k", "10.1.0.0/24");
        assert.ok(contains(vpc, subnet) && !contains(subnet, vpc));
        assert.ok(overlaps(vpc, subnet) && overlaps(subnet, vpc));
        assert.ok(!overlaps(vpc, other));
    });
});
