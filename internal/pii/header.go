package pii

import (
	"strings"
	"unicode"
)

// headerKinds maps normalised column names (lower case, words joined by
// "_") to the personal data they announce.
var headerKinds = map[string]Kind{
	"email": Email, "e_mail": Email, "email_address": Email, "mail": Email, "emailaddress": Email,
	"user_email": Email, "customer_email": Email, "contact_email": Email,
	"phone": Phone, "phone_number": Phone, "phonenumber": Phone, "telephone": Phone, "tel": Phone,
	"mobile": Phone, "mobile_number": Phone, "cell_phone": Phone, "msisdn": Phone, "contact_phone": Phone,
	"credit_card": CreditCard, "credit_card_number": CreditCard, "card_number": CreditCard, "cc_number": CreditCard,
	"ccn": CreditCard, "pan": CreditCard, "creditcard": CreditCard, "cardnumber": CreditCard,
	"iban": IBAN, "bank_account": IBAN, "account_number": IBAN, "bank_account_number": IBAN,
	"ssn": USSSN, "social_security_number": USSSN, "social_security": USSSN, "ssn_number": USSSN,
	"nino": UKNINO, "national_insurance_number": UKNINO, "ni_number": UKNINO,
	"aadhaar": Aadhaar, "aadhaar_number": Aadhaar, "aadhar": Aadhaar,
	"dni": SpanishID, "nie": SpanishID, "nif": SpanishID,
	"ip": IPAddress, "ip_address": IPAddress, "ipaddress": IPAddress, "ip_addr": IPAddress, "client_ip": IPAddress,
	"remote_addr": IPAddress, "source_ip": IPAddress, "src_ip": IPAddress, "user_ip": IPAddress,
	"first_name": PersonName, "last_name": PersonName, "full_name": PersonName, "surname": PersonName,
	"given_name": PersonName, "family_name": PersonName, "firstname": PersonName, "lastname": PersonName,
	"fullname": PersonName, "customer_name": PersonName, "patient_name": PersonName, "maiden_name": PersonName,
	"address": PostalAddress, "street": PostalAddress, "street_address": PostalAddress, "home_address": PostalAddress,
	"address_line_1": PostalAddress, "address1": PostalAddress, "postcode": PostalAddress, "post_code": PostalAddress,
	"zip": PostalAddress, "zipcode": PostalAddress, "zip_code": PostalAddress, "postal_code": PostalAddress,
	"dob": DateOfBirth, "date_of_birth": DateOfBirth, "birth_date": DateOfBirth, "birthdate": DateOfBirth,
	"birthday": DateOfBirth,
	"passport": Passport, "passport_number": Passport, "passport_no": Passport,
	"national_id": NationalID, "national_id_number": NationalID, "tax_id": NationalID, "tin": NationalID,
	"sin": NationalID, "personal_id": NationalID, "citizen_id": NationalID, "id_card_number": NationalID,
	"driver_license": DriverLicense, "drivers_license": DriverLicense, "driving_licence": DriverLicense,
	"driver_license_number": DriverLicense, "licence_number": DriverLicense, "license_number": DriverLicense,
}

// NormalizeHeader lower-cases a column name and joins its words with "_":
// "E-Mail Address", "emailAddress" and "email_address" all become
// "e_mail_address" or "email_address".
func NormalizeHeader(name string) string {
	var b strings.Builder
	prevLower := false
	pendingSep := false
	for _, r := range strings.TrimSpace(name) {
		switch {
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if unicode.IsUpper(r) && prevLower {
				pendingSep = true
			}
			if pendingSep && b.Len() > 0 {
				b.WriteByte('_')
			}
			pendingSep = false
			b.WriteRune(unicode.ToLower(r))
			prevLower = unicode.IsLower(r) || unicode.IsDigit(r)
		default:
			pendingSep = true
			prevLower = false
		}
	}
	return b.String()
}

// HeaderKind returns the personal data a column name announces, or "".
// Nested names ("customer.email") are judged by their last part.
func HeaderKind(name string) Kind {
	if i := strings.LastIndexAny(name, ".[/"); i >= 0 && i+1 < len(name) {
		name = name[i+1:]
	}
	n := NormalizeHeader(name)
	if k, ok := headerKinds[n]; ok {
		return k
	}
	if k, ok := headerKinds[strings.ReplaceAll(n, "_", "")]; ok {
		return k
	}
	return ""
}
