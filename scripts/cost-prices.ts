// Reads every price of cost/prices.json back from the AWS Price List API (GetProducts, served from us-east-1; the
// caller needs pricing:GetProducts) and fails when a published on-demand price differs from ours.
// Usage: npm run cost:prices                 compare, exit 1 on a difference or a price the API does not identify
//        npm run cost:prices -- --write      also write the published prices, their evidence and today's date
//        npm run cost:prices -- --region R   only region R
import * as fs from "fs";
import * as path from "path";
import { GetProductsCommand, PricingClient, type Filter } from "@aws-sdk/client-pricing";

export const PRICES_FILE = path.join(__dirname, "..", "cost", "prices.json");
/** Where AWS publishes the same price lists as files, by service, version and region. */
export const OFFER_FILES = "https://pricing.us-east-1.amazonaws.com/offers/v1.0/aws";

export interface Evidence {
    /** Where the published figure was read. */
    url: string;
    /** What the source says, word for word (from the Price List API: the dimension's description, price and unit). */
    says: string;
    /** When the source published it (YYYY-MM-DD). */
    published: string;
}

export interface Price {
    usd: number;
    /** The AWS pricing page, then how the figure was checked. */
    source: string;
    /** When the figure was last read (YYYY-MM-DD). */
    date: string;
    evidence?: Evidence;
}

type Entry = Price | Record<string, Price>;
export interface PriceTable {
    currency: string;
    regions: Record<string, Record<string, Entry>>;
}

/** One price of the table: its key, the instance type or class for grouped keys, and the price. */
export interface PriceRef {
    region: string;
    key: string;
    name?: string;
    price: Price;
}

export function isPrice(entry: Entry): entry is Price {
    return typeof (entry as Price).usd === "number";
}

export function priceRefs(table: PriceTable): PriceRef[] {
    return Object.entries(table.regions).flatMap(([region, prices]) =>
        Object.entries(prices).flatMap(([key, entry]) =>
            isPrice(entry)
                ? [{ region, key, price: entry }]
                : Object.entries(entry).map(([name, price]) => ({ region, key, name, price })),
        ),
    );
}

export function label(ref: { region: string; key: string; name?: string }): string {
    return `${ref.region} ${ref.key}${ref.name ? `.${ref.name}` : ""}`;
}

const DAY = /^\d{4}-\d{2}-\d{2}$/;

/** What is missing or inconsistent in a price's source, date and evidence; empty when nothing is. */
export function sourceProblems(table: PriceTable, today: string): string[] {
    const problems: string[] = [];
    for (const ref of priceRefs(table)) {
        const { price } = ref;
        const where = label(ref);
        if (!(price.usd > 0)) {
            problems.push(`${where}: no positive usd`);
        }
        if (typeof price.source !== "string" || !/^https:\/\/\S+.* - .{20,}/.test(price.source)) {
            problems.push(`${where}: no source (a URL, then " - " and how the figure was checked)`);
        }
        if (typeof price.date !== "string" || !DAY.test(price.date) || price.date > today) {
            problems.push(`${where}: no date it was read (YYYY-MM-DD, not after ${today})`);
        }
        const evidence = price.evidence;
        if (evidence === undefined) {
            continue;
        }
        if (!/^https:\/\/\S+$/.test(evidence.url ?? "")) {
            problems.push(`${where}: evidence without a URL`);
        }
        if (!DAY.test(evidence.published ?? "") || evidence.published > price.date) {
            problems.push(`${where}: evidence without the date it was published (not after the date read)`);
        }
        if (!mentions(evidence.says ?? "", price.usd)) {
            problems.push(`${where}: the evidence does not say ${price.usd} USD ("${evidence.says}")`);
        }
    }
    return problems;
}

/** Whether `text` states the amount `usd`, however many decimals it writes ("$0.10", "$ 0.025", "0.0528000000"). */
export function mentions(text: string, usd: number): boolean {
    return [...text.matchAll(/\d+(?:\.\d+)?/g)].some((match) => Number(match[0]) === usd);
}

/** How one price is found in the Price List API: the service, exact-match filters, and a test of each product. */
export interface PriceQuery {
    serviceCode: string;
    filters: Record<string, string>;
    /** The product's usage type without its region prefix ("APS1-", "EU-", "ap-southeast-1-"). */
    usagetype: string;
    /** Only price dimensions starting at this tier (tiered prices), when set. */
    beginRange?: string;
}

const REGION_PREFIX = /^(?:[A-Z0-9]+-|[a-z]+-[a-z]+-\d+-)?/;

export function usagetypeMatches(actual: string, wanted: string): boolean {
    return actual.replace(REGION_PREFIX, "") === wanted;
}

/** The query for each key of cost/prices.json; `name` is the instance type or database class of grouped keys. */
export function queryFor(region: string, key: string, name?: string): PriceQuery {
    const inRegion = { regionCode: region };
    switch (key) {
        case "eksClusterHour":
            return { serviceCode: "AmazonEKS", filters: inRegion, usagetype: "AmazonEKS-Hours:perCluster" };
        case "ec2InstanceHour":
            return {
                serviceCode: "AmazonEC2",
                filters: {
                    ...inRegion,
                    instanceType: name ?? "",
                    operatingSystem: "Linux",
                    tenancy: "Shared",
                    preInstalledSw: "NA",
                    licenseModel: "No License required",
                    capacitystatus: "Used",
                },
                usagetype: `BoxUsage:${name ?? ""}`,
            };
        case "ebsGp3GbMonth":
            return {
                serviceCode: "AmazonEC2",
                filters: { ...inRegion, volumeApiName: "gp3" },
                usagetype: "EBS:VolumeUsage.gp3",
            };
        case "classicLoadBalancerHour":
            return {
                serviceCode: "AWSELB",
                filters: { ...inRegion, productFamily: "Load Balancer" },
                usagetype: "LoadBalancerUsage",
            };
        case "classicLoadBalancerGb":
            return {
                serviceCode: "AWSELB",
                filters: { ...inRegion, productFamily: "Load Balancer" },
                usagetype: "DataProcessing-Bytes",
            };
        case "publicIpv4Hour":
            return { serviceCode: "AmazonVPC", filters: inRegion, usagetype: "PublicIPv4:InUseAddress" };
        case "natGatewayHour":
            return {
                serviceCode: "AmazonEC2",
                filters: { ...inRegion, productFamily: "NAT Gateway" },
                usagetype: "NatGateway-Hours",
            };
        case "natGatewayGb":
            return {
                serviceCode: "AmazonEC2",
                filters: { ...inRegion, productFamily: "NAT Gateway" },
                usagetype: "NatGateway-Bytes",
            };
        case "logsIngestionGb":
            return {
                serviceCode: "AmazonCloudWatch",
                filters: { ...inRegion, operation: "PutLogEvents" },
                usagetype: "DataProcessing-Bytes",
            };
        case "logsStorageGbMonth":
            return { serviceCode: "AmazonCloudWatch", filters: inRegion, usagetype: "TimedStorage-ByteHrs" };
        case "ecrStorageGbMonth":
            return { serviceCode: "AmazonECR", filters: inRegion, usagetype: "TimedStorage-ByteHrs" };
        case "internetEgressGb":
            return {
                serviceCode: "AWSDataTransfer",
                filters: { fromRegionCode: region, transferType: "AWS Outbound" },
                usagetype: "DataTransfer-Out-Bytes",
                beginRange: "0",
            };
        case "rdsPostgresInstanceHour":
            return {
                serviceCode: "AmazonRDS",
                filters: {
                    ...inRegion,
                    instanceType: name ?? "",
                    databaseEngine: "PostgreSQL",
                    deploymentOption: "Single-AZ",
                },
                usagetype: `InstanceUsage:${name ?? ""}`,
            };
        case "rdsGp3GbMonth":
            return {
                serviceCode: "AmazonRDS",
                filters: { ...inRegion, databaseEngine: "PostgreSQL", deploymentOption: "Single-AZ" },
                usagetype: "RDS:GP3-Storage",
            };
        case "secretsManagerSecretMonth":
            return { serviceCode: "AWSSecretsManager", filters: inRegion, usagetype: "AWSSecretsManager-Secret" };
        case "kmsKeyMonth":
            return { serviceCode: "awskms", filters: inRegion, usagetype: "KMS-Keys" };
        default:
            throw new Error(`cost/prices.json key '${key}' has no Price List query in scripts/cost-prices.ts`);
    }
}

/** The documented shape of one PriceList entry (a JSON string in the GetProducts response). */
interface PriceListItem {
    product: { sku: string; attributes: Record<string, string> };
    terms?: {
        OnDemand?: Record<
            string,
            {
                priceDimensions: Record<
                    string,
                    { unit: string; description: string; beginRange?: string; pricePerUnit: Record<string, string> }
                >;
            }
        >;
    };
    version?: string;
    publicationDate?: string;
}

export interface Published {
    usd: number;
    description: string;
    /** pricePerUnit.USD as published, and the unit it is per. */
    perUnit: string;
    sku: string;
    /** The offer file version the API read it from (its publication timestamp, YYYYMMDDhhmmss). */
    version: string;
    /** YYYY-MM-DD */
    published: string;
}

function filtersOf(query: PriceQuery): Filter[] {
    return Object.entries(query.filters).map(([Field, Value]) => ({ Type: "TERM_MATCH", Field, Value }));
}

/** The one published on-demand price the query identifies; an error when it finds none or several. */
export async function publishedPrice(client: PricingClient, query: PriceQuery, what: string): Promise<Published> {
    const found = new Map<number, Published>();
    let nextToken: string | undefined;
    do {
        const page = await client.send(
            new GetProductsCommand({
                ServiceCode: query.serviceCode,
                Filters: filtersOf(query),
                FormatVersion: "aws_v1",
                MaxResults: 100,
                NextToken: nextToken,
            }),
        );
        for (const raw of page.PriceList ?? []) {
            // Each entry is a JSON string; the SDK may hand it over as a String object (LazyJsonString).
            const item = JSON.parse(String(raw)) as PriceListItem;
            if (!usagetypeMatches(item.product.attributes.usagetype ?? "", query.usagetype)) {
                continue;
            }
            for (const term of Object.values(item.terms?.OnDemand ?? {})) {
                for (const dimension of Object.values(term.priceDimensions)) {
                    const usd = Number(dimension.pricePerUnit.USD);
                    if (!(usd > 0) || (query.beginRange !== undefined && dimension.beginRange !== query.beginRange)) {
                        continue;
                    }
                    found.set(usd, {
                        usd,
                        description: dimension.description.trim(),
                        perUnit: `${dimension.pricePerUnit.USD} USD per ${dimension.unit}`,
                        sku: item.product.sku,
                        version: item.version ?? "current",
                        published: (item.publicationDate ?? "").slice(0, 10),
                    });
                }
            }
        }
        nextToken = page.NextToken;
    } while (nextToken);
    if (found.size !== 1) {
        const seen = [...found.values()].map((p) => `${p.usd} (${p.description})`).join("; ");
        throw new Error(
            `${what}: the Price List API has ${found.size === 0 ? "no" : "more than one"} on-demand price for ` +
                `${query.serviceCode} ${JSON.stringify(query.filters)} usagetype *${query.usagetype}${seen ? `: ${seen}` : ""}`,
        );
    }
    return [...found.values()][0];
}

export interface Comparison {
    ref: PriceRef;
    published?: Published;
    error?: string;
}

/** Every price of the table (or of one region) next to what the Price List API publishes. */
export async function compare(client: PricingClient, table: PriceTable, region?: string): Promise<Comparison[]> {
    const comparisons: Comparison[] = [];
    for (const ref of priceRefs(table).filter((candidate) => region === undefined || candidate.region === region)) {
        try {
            const published = await publishedPrice(client, queryFor(ref.region, ref.key, ref.name), label(ref));
            comparisons.push({ ref, published });
        } catch (error) {
            comparisons.push({ ref, error: error instanceof Error ? error.message : String(error) });
        }
    }
    return comparisons;
}

export function differs(comparison: Comparison): boolean {
    return comparison.error !== undefined || comparison.published?.usd !== comparison.ref.price.usd;
}

/** The table with each published price, its evidence and the date it was read written in; errors stay as they are. */
export function withPublished(table: PriceTable, comparisons: Comparison[], today: string): PriceTable {
    const copy = JSON.parse(JSON.stringify(table)) as PriceTable;
    for (const { ref, published } of comparisons) {
        if (published === undefined) {
            continue;
        }
        const entry = copy.regions[ref.region][ref.key];
        const price = isPrice(entry) ? entry : entry[ref.name ?? ""];
        const page = price.source.split(" - ")[0];
        price.usd = published.usd;
        price.date = today;
        price.source = `${page} - Read from the AWS Price List API (GetProducts, ${ref.region}, SKU ${published.sku}) by npm run cost:prices: "${published.description}".`;
        price.evidence = {
            url: `${OFFER_FILES}/${queryFor(ref.region, ref.key, ref.name).serviceCode}/${published.version}/${ref.region}/index.json`,
            says: `${published.description} (pricePerUnit: ${published.perUnit})`,
            published: published.published || today,
        };
    }
    return copy;
}

export function report(comparisons: Comparison[]): string {
    const rows = comparisons.map(({ ref, published, error }) => {
        const status = error ? `ERROR ${error}` : published?.usd === ref.price.usd ? "same" : "DIFFERENT";
        return `| ${label(ref)} | ${ref.price.usd} | ${published?.usd ?? "-"} | ${status} |`;
    });
    return ["| Price | cost/prices.json | Price List API | |", "|---|--:|--:|---|", ...rows].join("\n");
}

function today(): string {
    return new Date().toISOString().slice(0, 10);
}

const USAGE = `usage: npm run cost:prices -- [--write] [--region REGION]

Compares every price of cost/prices.json with the AWS Price List API (GetProducts from us-east-1; needs
pricing:GetProducts) and exits 1 when one differs or is not found.
  --write          write the published prices, their evidence and today's date into cost/prices.json
  --region REGION  only that region's prices

examples:
  npm run cost:prices
  npm run cost:prices -- --region ap-southeast-1
  npm run cost:prices -- --write && npm run cost:docs`;

/** The command: compares (and with --write, writes) the prices of `file`; returns the exit code. */
export async function main(
    argv: string[],
    // The Price List API is served from a few regions only; us-east-1 answers for every region's prices.
    client: PricingClient = new PricingClient({ region: "us-east-1" }),
    file: string = PRICES_FILE,
): Promise<number> {
    if (argv.includes("--help") || argv.includes("-h")) {
        console.log(USAGE);
        return 0;
    }
    const write = argv.includes("--write");
    const regionIndex = argv.indexOf("--region");
    const region = regionIndex >= 0 ? argv[regionIndex + 1] : undefined;
    const unknown = argv.filter(
        (arg, index) => arg !== "--write" && arg !== "--region" && (regionIndex < 0 || index !== regionIndex + 1),
    );
    if (unknown.length > 0 || (regionIndex >= 0 && region === undefined)) {
        console.error(USAGE);
        return 2;
    }
    const table = JSON.parse(fs.readFileSync(file, "utf8")) as PriceTable;
    const comparisons = await compare(client, table, region);
    console.log(report(comparisons));
    const missing = comparisons.filter((comparison) => comparison.error !== undefined);
    const different = comparisons.filter(differs);
    if (write) {
        fs.writeFileSync(file, `${JSON.stringify(withPublished(table, comparisons, today()), null, 2)}\n`);
        console.log(
            `\nwrote ${comparisons.length - missing.length} prices (${different.length - missing.length} changed) ` +
                `to ${file}; run npm run cost:docs to update docs/cost.md`,
        );
    }
    const failing = write ? missing : different;
    if (failing.length > 0) {
        console.error(
            `\n${failing.length} of ${comparisons.length} prices differ from or are missing in the Price List API`,
        );
        return 1;
    }
    if (!write) {
        console.log(`\nall ${comparisons.length} prices match the Price List API`);
    }
    return 0;
}

if (require.main === module) {
    main(process.argv.slice(2)).then(
        (code) => process.exit(code),
        (error: unknown) => {
            console.error(error instanceof Error ? error.message : error);
            process.exit(1);
        },
    );
}
