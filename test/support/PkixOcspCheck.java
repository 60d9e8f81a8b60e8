// Independent judge: Java's PKIX CertPathValidator with OCSP revocation checking.
// Usage: java PkixOcspCheck ROOT.pem ISSUING.pem LEAF.pem OCSP_URL  -> prints VALID or REVOKED:<reason>
import java.io.FileInputStream;
import java.net.URI;
import java.security.cert.*;
import java.util.*;

public class PkixOcspCheck {
  public static void main(String[] a) throws Exception {
    CertificateFactory cf = CertificateFactory.getInstance("X.509");
    X509Certificate root = (X509Certificate) cf.generateCertificate(new FileInputStream(a[0]));
    X509Certificate issuing = (X509Certificate) cf.generateCertificate(new FileInputStream(a[1]));
    X509Certificate leaf = (X509Certificate) cf.generateCertificate(new FileInputStream(a[2]));
    CertPath path = cf.generateCertPath(List.of(leaf, issuing));
    CertPathValidator v = CertPathValidator.getInstance("PKIX");
    PKIXRevocationChecker rc = (PKIXRevocationChecker) v.getRevocationChecker();
    rc.setOcspResponder(new URI(a[3]));
    rc.setOptions(EnumSet.of(PKIXRevocationChecker.Option.ONLY_END_ENTITY, PKIXRevocationChecker.Option.NO_FALLBACK));
    PKIXParameters params = new PKIXParameters(Set.of(new TrustAnchor(root, null)));
    params.addCertPathChecker(rc);
    params.setRevocationEnabled(false); // the explicit checker above does the revocation work
    try {
      v.validate(path, params);
      System.out.println("VALID");
    } catch (CertPathValidatorException e) {
      if (e.getReason() == CertPathValidatorException.BasicReason.REVOKED) System.out.println("REVOKED:" + e.getMessage());
      else { System.out.println("INVALID:" + e.getReason() + ":" + e.getMessage()); System.exit(3); }
    }
  }
}
