// scripts/check-addons.ts with EKS's DescribeAddonVersions faked: the pins checked against the compatibility list of
// their Kubernetes minor, every page read, and a mismatch named with the versions EKS lists.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DescribeAddonVersionsCommand, EKSClient } from "@aws-sdk/client-eks";
import { ADDON_NAMES, checkAddons, eksCompatibleVersions, minorsToCheck } from "../../scripts/check-addons";
import { KUBERNETES_RELEASES, KubernetesVersion } from "../../versions";

/** EKS's answer where every pin of versions.ts is listed for its own minor. */
function listingPins(addonName: string, minor: string): string[] {
    const key = Object.entries(ADDON_NAMES).find(([, name]) => name === addonName)?.[0] as keyof typeof ADDON_NAMES;
    return [KUBERNETES_RELEASES[minor as KubernetesVersion].addons[key], "v0.0.1-eksbuild.1"];
}

describe("the pins against EKS's compatibility list", () => {
    test("every pin listed for its minor: no problem", async () =>
        assert.deepEqual(
            await checkAddons(minorsToCheck([]), (name, minor) => Promise.resolve(listingPins(name, minor))),
            [],
        ));
    test("a pin EKS does not list for 1.36 is named, with the versions EKS lists", async () => {
        const problems = await checkAddons(["1.36"], (name, minor) =>
            Promise.resolve(
                name === "metrics-server" ? ["v0.8.0-eksbuild.2", "v0.8.1-eksbuild.1"] : listingPins(name, minor),
            ),
        );
        assert.deepEqual(problems, [
            `metrics-server ${KUBERNETES_RELEASES["1.36"].addons.metricsServer} (versions.ts, Kubernetes 1.36) is not compatible with 1.36 according to EKS; compatible: v0.8.0-eksbuild.2, v0.8.1-eksbuild.1`,
        ]);
    });
    test("a minor not pinned is refused", () => assert.throws(() => minorsToCheck(["1.30"]), /1\.30 not pinned/));
});

describe("reading DescribeAddonVersions", () => {
    test("keeps the versions whose compatibilities name the cluster version, over every page", async () => {
        const asked: unknown[] = [];
        const pages = [
            {
                addons: [
                    {
                        addonVersions: [
                            { addonVersion: "v1", compatibilities: [{ clusterVersion: "1.36" }] },
                            { addonVersion: "v2", compatibilities: [{ clusterVersion: "1.35" }] },
                        ],
                    },
                ],
                nextToken: "page-2",
            },
            { addons: [{ addonVersions: [{ addonVersion: "v3", compatibilities: [{ clusterVersion: "1.36" }] }] }] },
        ];
        const client = {
            send: (command: DescribeAddonVersionsCommand) => {
                asked.push(command.input);
                return Promise.resolve(pages[asked.length - 1]);
            },
        } as unknown as EKSClient;
        assert.deepEqual(await eksCompatibleVersions(client)("metrics-server", "1.36"), ["v1", "v3"]);
        assert.deepEqual(asked, [
            { addonName: "metrics-server", kubernetesVersion: "1.36", nextToken: undefined },
            { addonName: "metrics-server", kubernetesVersion: "1.36", nextToken: "page-2" },
        ]);
    });
});
