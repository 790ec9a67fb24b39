// Validates each PDF named on the command line as PDF/A-1b with Apache PDFBox
// Preflight (Debian libpdfbox2-java), in one JVM: run by tests/common/pdfa.rs
// with `java -cp <jars> PreflightAll.java FILE...` (Java 11+ runs a source file).
// Prints "valid FILE" or "INVALID FILE" and each error; exits 1 if any is invalid.
import java.io.File;
import org.apache.pdfbox.preflight.PreflightDocument;
import org.apache.pdfbox.preflight.ValidationResult;
import org.apache.pdfbox.preflight.exception.SyntaxValidationException;
import org.apache.pdfbox.preflight.parser.PreflightParser;

public class PreflightAll {
    public static void main(String[] args) throws Exception {
        int bad = 0;
        for (String a : args) {
            ValidationResult result;
            PreflightParser parser = new PreflightParser(new File(a));
            try {
                parser.parse();
                try (PreflightDocument doc = parser.getPreflightDocument()) {
                    doc.validate();
                    result = doc.getResult();
                }
            } catch (SyntaxValidationException e) {
                result = e.getResult();
            }
            if (result.isValid()) {
                System.out.println("valid " + a);
            } else {
                bad++;
                System.out.println("INVALID " + a);
                for (ValidationResult.ValidationError e : result.getErrorsList()) {
                    System.out.println("  " + e.getErrorCode() + ": " + e.getDetails());
                }
            }
        }
        System.exit(bad == 0 ? 0 : 1);
    }
}
