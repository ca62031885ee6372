// The estimate as a Markdown table, the same one docs/cost.md shows.
import { CostLine, Estimate } from "./estimate";

function trimmed(value: number, maxDigits: number, minDigits = 0): string {
    const fixed = value.toFixed(maxDigits).replace(/0+$/, "").replace(/\.$/, "");
    const decimals = fixed.includes(".") ? fixed.split(".")[1].length : 0;
    return decimals >= minDigits ? fixed : value.toFixed(minDigits);
}

const dollars = (value: number): string => `$${value.toFixed(2)}`;

function quantity(costLine: CostLine): string {
    const desired = `${trimmed(costLine.quantity, 2)} ${costLine.unit}`;
    return costLine.quantityAtMax === costLine.quantity
        ? desired
        : `${desired} (${trimmed(costLine.quantityAtMax, 2)} at max)`;
}

export function markdownReport(estimate: Estimate): string {
    const rows = estimate.lines.map(
        (costLine) =>
            `| ${costLine.item} | ${quantity(costLine)} | $${trimmed(costLine.unitPrice, 5, 2)}/${costLine.unit} | ${dollars(costLine.monthly)} | ${dollars(costLine.monthlyAtMax)} |`,
    );
    return [
        `Monthly cost in ${estimate.region}, ${estimate.currency} (prices: cost/prices.json; assumptions: cost/usage.json)`,
        "",
        "| Item | Quantity | Unit price | Monthly | At max size |",
        "|---|--:|--:|--:|--:|",
        ...rows,
        `| **Total** | | | **${dollars(estimate.monthlyTotal)}** | **${dollars(estimate.monthlyTotalAtMax)}** |`,
    ].join("\n");
}
