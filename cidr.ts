import * as ipaddr from "ipaddr.js";
import { ConfigError } from "./config-error";

const PREFIX_LENGTH = /^\d{1,2}$/;

export interface Cidr {
    network: ipaddr.IPv4;
    prefix: number;
}

/** A canonical IPv4 block; a ConfigError naming `key` otherwise. */
export function parseCidr(key: string, value: string): Cidr {
    const [address, prefixLength, ...extra] = value.split("/");
    // Four plain decimal octets only: ipaddr.js alone would also read "10.1" or octal "010.0.0.0" as addresses.
    if (
        extra.length > 0 ||
        prefixLength === undefined ||
        !PREFIX_LENGTH.test(prefixLength) ||
        !ipaddr.IPv4.isValidFourPartDecimal(address) ||
        !ipaddr.IPv4.isValidCIDR(value)
    ) {
        throw new ConfigError(key, `'${value}' is not an IPv4 CIDR block such as 10.0.0.0/16`);
    }
    const prefix = Number(prefixLength);
    const network = ipaddr.IPv4.networkAddressFromCIDR(value);
    if (network.toString() !== address) {
        throw new ConfigError(
            key,
            `'${value}' has host bits set; the network address is ${network.toString()}/${prefix}`,
        );
    }
    return { network, prefix };
}

export function contains(outer: Cidr, inner: Cidr): boolean {
    return inner.prefix >= outer.prefix && inner.network.match(outer.network, outer.prefix);
}

export function overlaps(a: Cidr, b: Cidr): boolean {
    return contains(a, b) || contains(b, a);
}
