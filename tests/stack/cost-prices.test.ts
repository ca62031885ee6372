// npm run cost:prices against a local stand-in for the Price List API: the real SDK client sends its signed
// GetProducts requests to 127.0.0.1, which answers with recorded products of the documented shape (PriceList entries
// are JSON strings; terms.OnDemand.*.priceDimensions.*.pricePerUnit.USD), filtered and paged as the API does.
// Also: every price in cost/prices.json has a source and a date, and the verified ones carry most of the bill.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";
import * as http from "node:http";
import * as os from "node:os";
import * as path from "node:path";
import type { AddressInfo } from "node:net";
import { PricingClient } from "@aws-sdk/client-pricing";
import {
    PRICES_FILE,
    compare,
    differs,
    label,
    main,
    mentions,
    priceRefs,
    queryFor,
    sourceProblems,
    usagetypeMatches,
    withPublished,
    type Price,
    type PriceTable,
} from "../../scripts/cost-prices";
import { costOutput } from "../../scripts/cost-docs";

const TABLE = JSON.parse(fs.readFileSync(PRICES_FILE, "utf8")) as PriceTable;
const REGION = "ap-southeast-1";
const PUBLISHED = "2026-09-24T21:10:11Z";

interface Product {
    serviceCode: string;
    sku: string;
    attributes: Record<string, string>;
    dimensions: { usd: string; unit: string; description: string; beginRange?: string }[];
}

/** One PriceList entry as GetProducts returns it (before it is turned into a JSON string). */
function entry(product: Product): object {
    const term = `${product.sku}.JRTCKXETXF`;
    return {
        product: {
            productFamily: product.attributes.productFamily ?? "",
            attributes: { servicecode: product.serviceCode, ...product.attributes },
            sku: product.sku,
        },
        serviceCode: product.serviceCode,
        terms: {
            OnDemand: {
                [term]: {
                    priceDimensions: Object.fromEntries(
                        product.dimensions.map((dimension, index) => [
                            `${term}.${index}`,
                            {
                                unit: dimension.unit,
                                endRange: "Inf",
                                description: dimension.description,
                                appliesTo: [],
                                rateCode: `${term}.${index}`,
                                beginRange: dimension.beginRange ?? "0",
                                pricePerUnit: { USD: dimension.usd },
                            },
                        ]),
                    ),
                    sku: product.sku,
                    effectiveDate: "2026-09-01T00:00:00Z",
                    offerTermCode: "JRTCKXETXF",
                    termAttributes: {},
                },
            },
        },
        version: "20260924211011",
        publicationDate: PUBLISHED,
    };
}

const sg = { regionCode: REGION, location: "Asia Pacific (Singapore)" };
const linux = {
    ...sg,
    productFamily: "Compute Instance",
    operatingSystem: "Linux",
    tenancy: "Shared",
    preInstalledSw: "NA",
    licenseModel: "No License required",
    capacitystatus: "Used",
};
const instance = (sku: string, type: string, usd: string, extra: Record<string, string> = {}): Product => ({
    serviceCode: "AmazonEC2",
    sku,
    attributes: { ...linux, instanceType: type, usagetype: `APS1-BoxUsage:${type}`, ...extra },
    dimensions: [{ usd, unit: "Hrs", description: `$${Number(usd)} per On Demand Linux ${type} Instance Hour` }],
});
const postgres = (sku: string, type: string, usd: string, deploymentOption = "Single-AZ"): Product => ({
    serviceCode: "AmazonRDS",
    sku,
    attributes: {
        ...sg,
        productFamily: "Database Instance",
        instanceType: type,
        databaseEngine: "PostgreSQL",
        deploymentOption,
        usagetype: `APS1-${deploymentOption === "Single-AZ" ? "InstanceUsage" : "Multi-AZUsage"}:${type}`,
    },
    dimensions: [
        {
            usd,
            unit: "Hrs",
            description: `$ ${Number(usd)} per RDS ${type} ${deploymentOption} instance hour (or partial hour) running PostgreSQL`,
        },
    ],
});
const simple = (
    serviceCode: string,
    sku: string,
    usagetype: string,
    usd: string,
    unit: string,
    description: string,
    attributes: Record<string, string> = {},
): Product => ({
    serviceCode,
    sku,
    attributes: { ...sg, usagetype, ...attributes },
    dimensions: [{ usd, unit, description }],
});

/**
 * Recorded products for the prices of ap-southeast-1 that are verified from AWS's published figures, with the
 * products a careless filter would also catch: Windows and unused-reservation hours, Multi-AZ and MySQL databases,
 * the Application Load Balancer, the regional NAT gateway, free tiers and the egress tiers beyond the first.
 */
const CATALOG: Product[] = [
    simple("AmazonEKS", "EKS1", "APS1-AmazonEKS-Hours:perCluster", "0.1000000000", "Hours", "Amazon EKS cluster usage"),
    simple(
        "AmazonEKS",
        "EKS2",
        "APS1-AmazonEKS-Hours:extendedSupport",
        "0.5000000000",
        "Hours",
        "EKS extended support",
    ),
    instance("T3M", "t3.medium", "0.0528000000"),
    instance("T3MW", "t3.medium", "0.0712000000", { operatingSystem: "Windows" }),
    instance("T3MU", "t3.medium", "0.0528000000", { capacitystatus: "UnusedCapacityReservation" }),
    instance("T3S", "t3.small", "0.0264000000"),
    instance("T2M", "t2.medium", "0.0584000000"),
    instance("T2L", "t2.large", "0.1168000000"),
    simple(
        "AmazonEC2",
        "GP3",
        "APS1-EBS:VolumeUsage.gp3",
        "0.0960000000",
        "GB-Mo",
        "$0.096 per GB-month of General Purpose (gp3) provisioned storage - Asia Pacific (Singapore)",
        { productFamily: "Storage", volumeApiName: "gp3" },
    ),
    simple(
        "AmazonEC2",
        "GP2",
        "APS1-EBS:VolumeUsage.gp2",
        "0.1200000000",
        "GB-Mo",
        "$0.12 per GB-month of General Purpose SSD (gp2) provisioned storage - Asia Pacific (Singapore)",
        { productFamily: "Storage", volumeApiName: "gp2" },
    ),
    simple("AmazonEC2", "NATH", "APS1-NatGateway-Hours", "0.0590000000", "Hrs", "$0.059 per NAT Gateway Hour", {
        productFamily: "NAT Gateway",
    }),
    simple(
        "AmazonEC2",
        "RNATH",
        "APS1-RegionalNatGateway-Hours",
        "0.0650000000",
        "Hrs",
        "$0.065 per Regional NAT Gateway Hour",
        { productFamily: "NAT Gateway" },
    ),
    simple(
        "AmazonEC2",
        "NATB",
        "APS1-NatGateway-Bytes",
        "0.0590000000",
        "GB",
        "$0.059 per GB Data Processed by NAT Gateways",
        { productFamily: "NAT Gateway" },
    ),
    simple(
        "AWSELB",
        "ALB",
        "APS1-LoadBalancerUsage",
        "0.0252000000",
        "Hrs",
        "$0.0252 per Application LoadBalancer-hour (or partial hour)",
        { productFamily: "Load Balancer-Application" },
    ),
    simple(
        "AmazonVPC",
        "IPV4",
        "APS1-PublicIPv4:InUseAddress",
        "0.0050000000",
        "Hrs",
        "$0.005 per In-use public IPv4 address per hour",
    ),
    simple(
        "AmazonVPC",
        "IPV4I",
        "APS1-PublicIPv4:IdleAddress",
        "0.0050000000",
        "Hrs",
        "$0.005 per Idle public IPv4 address per hour",
    ),
    simple(
        "AmazonCloudWatch",
        "LOGI",
        "APS1-DataProcessing-Bytes",
        "0.7000000000",
        "GB",
        "$0.70 per GB custom log data ingested in Standard log class - Asia Pacific (Singapore)",
        { operation: "PutLogEvents" },
    ),
    simple(
        "AmazonCloudWatch",
        "LOGS",
        "APS1-TimedStorage-ByteHrs",
        "0.0300000000",
        "GB-Mo",
        "$0.03 per GB-mo of log storage - Asia Pacific (Singapore)",
    ),
    simple(
        "AmazonECR",
        "ECR",
        "APS1-TimedStorage-ByteHrs",
        "0.1000000000",
        "GB-Mo",
        "$0.10 per GB-month of data storage",
    ),
    {
        serviceCode: "AWSDataTransfer",
        sku: "OUT",
        attributes: {
            fromRegionCode: REGION,
            transferType: "AWS Outbound",
            usagetype: "APS1-DataTransfer-Out-Bytes",
        },
        dimensions: [
            {
                usd: "0.1200000000",
                unit: "GB",
                beginRange: "0",
                description: "$0.120 per GB - first 10 TB / month data transfer out beyond the global free tier",
            },
            {
                usd: "0.0850000000",
                unit: "GB",
                beginRange: "10240",
                description: "$0.085 per GB - next 40 TB / month data transfer out",
            },
        ],
    },
    postgres("PGMICRO", "db.t4g.micro", "0.0250000000"),
    postgres("PGSMALL", "db.t4g.small", "0.0510000000"),
    postgres("PGMICROMAZ", "db.t4g.micro", "0.0500000000", "Multi-AZ"),
    {
        ...postgres("MYMICRO", "db.t4g.micro", "0.0260000000"),
        attributes: { ...postgres("X", "db.t4g.micro", "0").attributes, databaseEngine: "MySQL" },
    },
    simple(
        "AmazonRDS",
        "PGGP3",
        "APS1-RDS:GP3-Storage",
        "0.1380000000",
        "GB-Mo",
        "$0.138 per GB-month of provisioned GP3 storage running PostgreSQL",
        { productFamily: "Database Storage", databaseEngine: "PostgreSQL", deploymentOption: "Single-AZ" },
    ),
    simple("AWSSecretsManager", "SEC", "APS1-AWSSecretsManager-Secret", "0.4000000000", "Secrets", "$0.40 per Secret"),
    simple(
        "awskms",
        "KMS",
        "ap-southeast-1-KMS-Keys",
        "1.0000000000",
        "Keys",
        "$1 per customer managed KMS key version in Asia Pacific (Singapore)",
    ),
];

interface GetProductsRequest {
    ServiceCode: string;
    Filters: { Type: string; Field: string; Value: string }[];
    FormatVersion: string;
    MaxResults?: number;
    NextToken?: string;
}

/** Two products a page, so every query with more than two matches is read across pages. */
const PAGE_SIZE = 2;

class PriceListStandIn {
    readonly requests: { target: string; authorization: string; body: GetProductsRequest }[] = [];
    catalog: Product[] = CATALOG;
    private server = http.createServer((request, response) => {
        let body = "";
        request.on("data", (chunk: Buffer) => (body += chunk.toString()));
        request.on("end", () => {
            const parsed = JSON.parse(body) as GetProductsRequest;
            this.requests.push({
                target: String(request.headers["x-amz-target"]),
                authorization: String(request.headers.authorization),
                body: parsed,
            });
            const matching = this.catalog.filter(
                (product) =>
                    product.serviceCode === parsed.ServiceCode &&
                    parsed.Filters.every(
                        (filter) =>
                            filter.Type === "TERM_MATCH" &&
                            (product.attributes[filter.Field] ?? "").toLowerCase() === filter.Value.toLowerCase(),
                    ),
            );
            const start = Number(parsed.NextToken ?? "0");
            const page = matching.slice(start, start + PAGE_SIZE);
            const next = start + PAGE_SIZE < matching.length ? String(start + PAGE_SIZE) : undefined;
            response.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
            response.end(
                JSON.stringify({
                    FormatVersion: "aws_v1",
                    PriceList: page.map((product) => JSON.stringify(entry(product))),
                    ...(next ? { NextToken: next } : {}),
                }),
            );
        });
    });

    async start(): Promise<string> {
        await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
        return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    }

    stop(): Promise<void> {
        return new Promise((resolve) => this.server.close(() => resolve()));
    }
}

/** The table reduced to the prices of ap-southeast-1 that have evidence (those the recorded products cover). */
function verifiedOnly(table: PriceTable): PriceTable {
    const region: Record<string, Price | Record<string, Price>> = {};
    for (const ref of priceRefs(table).filter((r) => r.region === REGION && r.price.evidence !== undefined)) {
        if (ref.name === undefined) {
            region[ref.key] = ref.price;
        } else {
            region[ref.key] = { ...(region[ref.key] as Record<string, Price> | undefined), [ref.name]: ref.price };
        }
    }
    return { currency: table.currency, regions: { [REGION]: region } };
}

/** A table of one price of ap-southeast-1 from cost/prices.json. */
function only(key: string, name?: string): PriceTable {
    const ref = priceRefs(TABLE).find((r) => r.region === REGION && r.key === key && r.name === name);
    assert.ok(ref, `${key} ${name ?? ""}`);
    return {
        currency: "USD",
        regions: { [REGION]: { [key]: name === undefined ? ref.price : { [name]: ref.price } } },
    };
}

/** The real SDK client, pointed at the stand-in on 127.0.0.1 with AWS's documented example credentials. */
function standInClient(endpoint: string): PricingClient {
    return new PricingClient({
        region: "us-east-1",
        endpoint,
        credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" },
        maxAttempts: 1,
    });
}

describe("npm run cost:prices against recorded Price List responses", () => {
    const standIn = new PriceListStandIn();
    let client: PricingClient;

    before(async () => {
        client = standInClient(await standIn.start());
    });
    after(() => standIn.stop());

    test("every verified price of ap-southeast-1 is what the recorded responses publish", async () => {
        const table = verifiedOnly(TABLE);
        const comparisons = await compare(client, table);
        assert.ok(comparisons.length >= 15, `${comparisons.length} prices compared`);
        assert.deepEqual(
            comparisons.filter(differs).map((c) => `${label(c.ref)}: ${c.error ?? c.published?.usd}`),
            [],
        );
        const t3 = comparisons.find((c) => c.ref.key === "ec2InstanceHour" && c.ref.name === "t3.medium");
        assert.equal(t3?.published?.sku, "T3M");
        assert.equal(t3?.published?.published, "2026-09-24");
    });

    test("asks us-east-1's GetProducts, signed, with exact-match filters, and reads every page", async () => {
        standIn.requests.length = 0;
        await compare(client, only("rdsPostgresInstanceHour", "db.t4g.micro"));
        const [first, second] = standIn.requests;
        assert.equal(first.target, "AWSPriceListService.GetProducts");
        assert.match(
            first.authorization,
            /^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/pricing\/aws4_request/,
        );
        assert.equal(first.body.ServiceCode, "AmazonRDS");
        assert.deepEqual(first.body.Filters.map((f) => `${f.Type} ${f.Field}=${f.Value}`).sort(), [
            "TERM_MATCH databaseEngine=PostgreSQL",
            "TERM_MATCH deploymentOption=Single-AZ",
            "TERM_MATCH instanceType=db.t4g.micro",
            "TERM_MATCH regionCode=ap-southeast-1",
        ]);
        assert.equal(first.body.FormatVersion, "aws_v1");
        assert.equal(second, undefined, "one product matches: one page");
        standIn.requests.length = 0;
        await compare(client, only("eksClusterHour"));
        assert.equal(standIn.requests.length, 1);
        standIn.catalog = [
            ...CATALOG,
            ...CATALOG.filter((p) => p.serviceCode === "AmazonEKS").map((p) => ({ ...p, sku: `${p.sku}X` })),
        ];
        standIn.requests.length = 0;
        const [eks] = await compare(client, only("eksClusterHour"));
        standIn.catalog = CATALOG;
        assert.equal(standIn.requests.length, 2, "four products, two a page");
        assert.equal(standIn.requests[1].body.NextToken, "2");
        assert.equal(eks.published?.usd, 0.1);
    });

    test("a published price that differs from ours is reported, and --write takes it with its evidence", async () => {
        standIn.catalog = CATALOG.map((p) => (p.sku === "T3M" ? instance("T3M", "t3.medium", "0.0560000000") : p));
        try {
            const table = only("ec2InstanceHour", "t3.medium");
            const comparisons = await compare(client, table);
            assert.deepEqual(
                comparisons.filter(differs).map((c) => [label(c.ref), c.ref.price.usd, c.published?.usd]),
                [["ap-southeast-1 ec2InstanceHour.t3.medium", 0.0528, 0.056]],
            );
            const written = withPublished(table, comparisons, "2026-12-24");
            const price = (written.regions[REGION].ec2InstanceHour as Record<string, Price>)["t3.medium"];
            assert.equal(price.usd, 0.056);
            assert.equal(price.date, "2026-12-24");
            assert.equal(
                price.evidence?.says,
                "$0.056 per On Demand Linux t3.medium Instance Hour (pricePerUnit: 0.0560000000 USD per Hrs)",
            );
            assert.equal(price.evidence?.published, "2026-09-24");
            assert.equal(
                price.evidence?.url,
                "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws/AmazonEC2/20260924211011/ap-southeast-1/index.json",
            );
            assert.match(
                price.source,
                /^https:\/\/aws\.amazon\.com\/ec2\/pricing\/on-demand\/ .* - Read from the AWS Price List API/,
            );
            assert.deepEqual(sourceProblems(written, "2026-12-24"), []);
            // A description without the amount ("Amazon EKS cluster usage") still yields evidence stating it.
            const eks = withPublished(
                only("eksClusterHour"),
                await compare(client, only("eksClusterHour")),
                "2026-12-24",
            );
            assert.deepEqual(sourceProblems(eks, "2026-12-24"), []);
        } finally {
            standIn.catalog = CATALOG;
        }
    });

    test("a price the API does not identify, or identifies twice, is an error naming it", async () => {
        const [missing] = await compare(client, only("classicLoadBalancerHour"));
        assert.match(
            missing.error ?? "",
            /ap-southeast-1 classicLoadBalancerHour: the Price List API has no on-demand price for AWSELB/,
        );
        standIn.catalog = [...CATALOG, { ...instance("T3M2", "t3.medium", "0.0600000000") }];
        try {
            const [twice] = await compare(client, only("ec2InstanceHour", "t3.medium"));
            assert.match(twice.error ?? "", /more than one on-demand price .*0\.0528.*0\.06/);
            assert.ok(differs(twice));
        } finally {
            standIn.catalog = CATALOG;
        }
    });
});

describe("the command", () => {
    const standIn = new PriceListStandIn();
    let client: PricingClient;
    let directory: string;

    before(async () => {
        client = standInClient(await standIn.start());
        directory = fs.mkdtempSync(path.join(os.tmpdir(), "cost-prices-"));
    });
    after(async () => {
        fs.rmSync(directory, { recursive: true, force: true });
        await standIn.stop();
    });

    test("exits 0 when every price matches, 1 on a difference, and --write takes the published price", async () => {
        const file = path.join(directory, "prices.json");
        const table = JSON.parse(JSON.stringify(verifiedOnly(TABLE))) as PriceTable;
        fs.writeFileSync(file, JSON.stringify(table));
        assert.equal(await main(["--region", REGION], client, file), 0);
        const t3 = (table.regions[REGION].ec2InstanceHour as Record<string, Price>)["t3.medium"];
        t3.usd = 0.05;
        fs.writeFileSync(file, JSON.stringify(table));
        assert.equal(await main([], client, file), 1);
        assert.equal(await main(["--write"], client, file), 0);
        const written = JSON.parse(fs.readFileSync(file, "utf8")) as PriceTable;
        assert.equal((written.regions[REGION].ec2InstanceHour as Record<string, Price>)["t3.medium"].usd, 0.0528);
        assert.equal(await main([], client, file), 0);
        assert.equal(await main(["--region", "us-east-1"], client, file), 0, "no price of that region in the file");
    });

    test("--help says what it does and shows examples", async () => {
        assert.equal(await main(["--help"], client, path.join(directory, "none.json")), 0);
    });
    test("refuses unknown arguments", async () => {
        assert.equal(await main(["ap-southeast-1"], client, path.join(directory, "none.json")), 2);
        assert.equal(await main(["--region"], client, path.join(directory, "none.json")), 2);
    });
});

describe("the queries", () => {
    test("usage types match with any region prefix, and only the usage type asked for", () => {
        assert.ok(usagetypeMatches("APS1-NatGateway-Hours", "NatGateway-Hours"));
        assert.ok(usagetypeMatches("NatGateway-Hours", "NatGateway-Hours"));
        assert.ok(usagetypeMatches("EU-NatGateway-Hours", "NatGateway-Hours"));
        assert.ok(usagetypeMatches("ap-southeast-1-KMS-Keys", "KMS-Keys"));
        assert.ok(!usagetypeMatches("APS1-RegionalNatGateway-Hours", "NatGateway-Hours"));
        assert.ok(!usagetypeMatches("APS1-AmazonEKS-Hours:extendedSupport", "AmazonEKS-Hours:perCluster"));
    });
    test("every key of cost/prices.json has a query", () => {
        for (const ref of priceRefs(TABLE)) {
            assert.doesNotThrow(() => queryFor(ref.region, ref.key, ref.name), label(ref));
        }
        assert.throws(() => queryFor(REGION, "elasticacheNodeHour"), /'elasticacheNodeHour' has no Price List query/);
    });
});

describe("the sources of cost/prices.json", () => {
    const today = new Date().toISOString().slice(0, 10);

    test("every price has a source URL and the date it was read; evidence states the very figure", () => {
        assert.deepEqual(sourceProblems(TABLE, today), []);
    });

    test("a price without a source, without a date, or with evidence of another figure is caught", () => {
        const base = only("eksClusterHour").regions[REGION].eksClusterHour as Price;
        const broken: PriceTable = {
            currency: "USD",
            regions: {
                [REGION]: {
                    eksClusterHour: { ...base, source: "" },
                    ebsGp3GbMonth: { usd: 0.096, date: "2026-12-06" } as Price,
                    publicIpv4Hour: { ...base, usd: 0.005, date: "06/12/2026" },
                    kmsKeyMonth: { ...base, usd: 1.5 },
                    natGatewayHour: { ...base, date: "2999-01-01" },
                },
            },
        };
        assert.deepEqual(sourceProblems(broken, "2026-12-06"), [
            'ap-southeast-1 eksClusterHour: no source (a URL, then " - " and how the figure was checked)',
            'ap-southeast-1 ebsGp3GbMonth: no source (a URL, then " - " and how the figure was checked)',
            "ap-southeast-1 publicIpv4Hour: no date it was read (YYYY-MM-DD, not after 2026-12-06)",
            "ap-southeast-1 publicIpv4Hour: evidence without the date it was published (not after the date read)",
            `ap-southeast-1 publicIpv4Hour: the evidence does not say 0.005 USD ("${base.evidence?.says}")`,
            `ap-southeast-1 kmsKeyMonth: the evidence does not say 1.5 USD ("${base.evidence?.says}")`,
            "ap-southeast-1 natGatewayHour: no date it was read (YYYY-MM-DD, not after 2026-12-06)",
        ]);
    });

    test("amounts are read from the evidence however AWS writes them", () => {
        assert.ok(mentions("$ 0.025 per RDS db.t4g.micro Single-AZ instance hour", 0.025));
        assert.ok(mentions("$0.120 per GB - first 10 TB / month", 0.12));
        assert.ok(mentions("you will continue to pay $0.10 per cluster per hour.", 0.1));
        assert.ok(!mentions("$0.0528 per On Demand Linux t3.medium Instance Hour", 0.053));
    });

    test("the prices verified from AWS's published figures make up at least 90 % of the default monthly total", async () => {
        const estimate = JSON.parse(await costOutput(["--json"])) as {
            region: string;
            monthlyTotal: number;
            lines: { item: string; monthly: number; priceSource: string }[];
        };
        assert.equal(estimate.region, REGION);
        const verified = new Set(
            priceRefs(TABLE)
                .filter((ref) => ref.region === REGION && ref.price.evidence !== undefined)
                .map((ref) => `${ref.price.source} (${ref.price.date})`),
        );
        const covered = estimate.lines
            .filter((line) => verified.has(line.priceSource))
            .reduce((sum, line) => sum + line.monthly, 0);
        const share = covered / estimate.monthlyTotal;
        assert.ok(share >= 0.9, `verified prices cover ${(share * 100).toFixed(1)} % of $${estimate.monthlyTotal}`);
    });
});
