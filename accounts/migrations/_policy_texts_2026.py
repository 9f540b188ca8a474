"""The first terms of use and privacy policy (version 1.0, in force from 2026-12-01), seeded by the migration
accounts/0005_policies and by tests that flush the database. Markdown; `{operator_name}`-style placeholders are
filled from the settings when a page shows the text (marketplace.policy_views.PLACEHOLDERS).

Not named like a migration (leading underscore), so Django's migration loader skips it.
"""

import datetime

EFFECTIVE_ON = datetime.date(2026, 12, 1)
VERSION = "1.0"

TERMS_KO = """\
## 제1조 (목적)
이 약관은 {operator_name}(이하 "운영기관")이 운영하는 시흥 데이터거래소(이하 "거래소")에서 데이터를 찾고, 제공하고, 구매하고, 내려받는 데 필요한 운영기관과 회원 사이의 권리·의무와 절차를 정합니다.

## 제2조 (정의)
1. "회원"은 이 약관과 개인정보처리방침에 동의하고 전자우편 주소로 가입한 사람입니다.
2. "기관"은 회원이 등록한 시청 부서, 공공기관, 기업, 연구기관, 시민단체입니다. 기관은 운영기관의 검증을 받아야 데이터를 제공하거나 구매할 수 있습니다.
3. "제공기관"은 데이터를 등록해 공개하는 기관, "구매기관"은 데이터를 구매하거나 무료로 신청하는 기관입니다.
4. "데이터셋"은 거래소에 공개된 데이터와 그 설명, 파일, 이용허락 조건(라이선스), 가격입니다.
5. "주문"은 구매기관이 하나 이상의 데이터셋을 유료로 구매하거나 무료로 신청하는 것입니다.

## 제3조 (약관의 게시와 개정)
1. 운영기관은 이 약관을 거래소 화면 아래쪽 "이용약관"에 게시하고, 이전 버전도 함께 볼 수 있게 합니다.
2. 운영기관은 관련 법령을 위반하지 않는 범위에서 약관을 개정할 수 있습니다. 개정할 때에는 시행일과 개정 내용을 시행일 7일 전부터(회원에게 불리한 변경은 30일 전부터) 거래소에 알립니다.
3. 개정 약관이 시행된 뒤 처음 로그인한 회원에게는 바뀐 내용을 보여 주고 동의를 받습니다. 동의하지 않는 회원은 탈퇴할 수 있습니다.

## 제4조 (회원가입)
1. 가입하려는 사람은 이름, 전자우편 주소, 비밀번호를 입력하고 이 약관과 개인정보처리방침에 동의한 뒤, 전자우편으로 받은 확인 링크를 열어 가입을 마칩니다.
2. 만 14세 미만은 가입할 수 없습니다.
3. 다른 사람의 정보를 도용하거나 사실과 다른 정보를 입력한 경우 운영기관은 가입을 거절하거나 이용을 제한할 수 있습니다.
4. 거래소는 주민등록번호를 수집하지 않습니다.

## 제5조 (회원 탈퇴와 자격 상실)
1. 회원은 언제든지 운영기관에 탈퇴를 요청할 수 있으며, 운영기관은 지체 없이 처리합니다. 다만 진행 중인 주문이 있으면 그 주문이 끝난 뒤에 처리합니다.
2. 탈퇴한 회원의 개인정보는 개인정보처리방침에서 정한 기간 동안만 보관한 뒤 파기합니다.
3. 회원이 이 약관이나 관련 법령을 위반한 경우 운영기관은 사유를 알리고 이용을 제한하거나 자격을 상실시킬 수 있습니다.

## 제6조 (기관 등록과 검증)
1. 회원은 기관을 등록하고 사업자등록번호(시청 부서는 상위 기관의 번호), 부가가치세 과세 유형, 연락처 등을 입력합니다.
2. 운영기관의 관리자는 등록 내용을 확인해 기관을 검증하거나, 사유를 밝혀 반려합니다.
3. 기관의 소유자는 다른 회원을 초대하고 역할(소유자, 제공 담당, 구매 담당, 조회)을 정합니다. 기관 안에서 한 일에는 그 기관이 책임을 집니다.

## 제7조 (데이터의 등록과 제공기관의 의무)
1. 제공기관은 데이터셋을 등록하고 운영기관의 심사를 거쳐 공개합니다. 운영기관은 설명이 부족하거나 이 약관·법령에 어긋나는 데이터셋을 반려하거나 공개를 중지할 수 있습니다.
2. 제공기관은 개인정보 보호법에 따라 처리할 근거가 없는 개인정보(특히 주민등록번호)나 제3자의 권리가 있는 자료를 등록해서는 안 됩니다. 거래소는 올린 파일을 자동으로 검사하며, 주민등록번호가 발견된 파일은 공개할 수 없습니다.
3. 공공데이터는 「공공데이터의 제공 및 이용 활성화에 관한 법률」에 따라 상업적 이용을 막을 수 없고, 이용료는 제공에 드는 필요최소한의 비용을 넘을 수 없습니다. 제공기관은 비용의 근거를 밝힙니다.

## 제8조 (이용허락)
1. 데이터셋마다 이용허락 조건(공공누리, 크리에이티브 커먼즈 또는 제공기관이 정한 조건)이 표시됩니다. 구매기관은 주문할 때 그 조건을 읽고 동의하며, 거래소는 동의한 조건의 원문과 시각을 주문에 기록합니다.
2. 구매기관은 동의한 조건의 범위 안에서만 데이터를 이용합니다. 출처 표시 등 조건이 정한 의무를 지킵니다.

## 제9조 (가격, 주문과 결제)
1. 가격은 공급가액과 부가가치세, 합계로 표시합니다. 부가가치세는 제공기관의 과세 유형에 따라 붙거나 면제됩니다.
2. 유료 주문은 카드(전자결제대행사를 통한 결제) 또는 무통장입금으로 결제합니다. 정해진 기한까지 결제하지 않은 주문은 자동으로 취소됩니다.
3. 무료 데이터셋은 이용허락 조건에 동의하면 결제 없이 바로 신청이 완료됩니다.
4. 세금계산서나 영수증이 필요한 경우 주문할 때 입력한 청구 정보로 발급합니다.

## 제10조 (청약철회와 환불)
1. 결제하기 전의 주문은 언제든지 취소할 수 있고, 비용이 청구되지 않습니다.
2. 결제한 주문은 파일을 내려받기 전이라면 결제일부터 7일 안에 청약을 철회할 수 있으며, 운영기관은 요청을 받은 날부터 3영업일 안에 환불합니다(「전자상거래 등에서의 소비자보호에 관한 법률」 제17조, 제18조).
3. 데이터는 디지털콘텐츠이므로 파일을 내려받기 시작한 뒤에는 청약철회가 제한됩니다(같은 법 제17조제2항제5호). 거래소는 이를 위해 구매 전에 데이터 설명, 열 구성, 미리보기와 무료 표본을 보여 줍니다.
4. 제공된 데이터가 설명과 다르거나 파일이 손상된 경우에는 내려받은 뒤라도 안 날부터 30일, 받은 날부터 3개월 안에 철회하거나 다시 받을 수 있습니다.

## 제11조 (데이터의 제공)
1. 결제가 확인되거나 무료 신청이 완료되면 거래소는 데이터, 이용허락 조건, 설명서, 체크섬을 묶은 패키지를 만들어 주문 화면에서 내려받게 합니다.
2. 패키지는 일정 기간이 지나면 삭제되며, 이용 기간 안이라면 다시 만들 수 있습니다. 구독은 구독 기간 동안 공개되는 새 버전을 제공합니다.

## 제12조 (회원의 의무)
회원은 다음 행위를 해서는 안 됩니다.

1. 다른 사람의 계정이나 기관을 도용하는 행위
2. 내려받은 데이터를 이용허락 조건을 벗어나 이용하거나 제3자에게 제공하는 행위
3. 데이터를 다른 정보와 결합하는 등으로 특정 개인을 알아보려는 행위
4. 거래소의 운영을 방해하거나 보안을 위협하는 행위

## 제13조 (서비스의 변경과 중단)
운영기관은 시스템 점검, 장애, 천재지변 등 부득이한 경우 서비스를 일시 중단할 수 있으며, 미리 알릴 수 있는 경우에는 거래소에 알립니다.

## 제14조 (책임의 제한)
1. 데이터의 내용과 정확성에 대한 책임은 그 데이터를 등록한 제공기관에 있습니다.
2. 운영기관은 고의 또는 과실이 없는 한 회원이 데이터를 이용해 생긴 손해에 책임을 지지 않습니다.

## 제15조 (분쟁 해결)
1. 이용 중 불편이나 분쟁은 운영기관({operator_phone}, {operator_email})에 알려 주시면 처리 결과를 알려 드립니다.
2. 데이터 거래에 관한 분쟁은 「데이터 산업진흥 및 이용촉진에 관한 기본법」의 데이터분쟁조정위원회에 조정을 신청할 수 있습니다.
3. 소송이 필요한 경우 「민사소송법」에 따른 관할 법원에 제기합니다.

## 부칙
이 약관은 2026년 12월 1일부터 시행합니다.
"""

TERMS_EN = """\
*This English text is a translation for convenience; the Korean text prevails.*

## Article 1 (Purpose)
These terms set out the rights, duties and procedures between {operator_name} (the "operator") and members for finding, providing, buying and downloading data on the Siheung Data Exchange (the "exchange").

## Article 2 (Definitions)
1. A "member" is a person who agreed to these terms and the privacy policy and signed up with an e-mail address.
2. An "organization" is a city department, public body, company, research institute or citizen group registered by a member. An organization must be verified by the operator before it may publish or buy data.
3. A "provider" publishes datasets; a "buyer" buys datasets or takes free ones.
4. A "dataset" is data published on the exchange with its description, files, licence and price.
5. An "order" is a buyer's purchase of one or more datasets, or its free order of free datasets.

## Article 3 (Publication and amendment of the terms)
1. The operator publishes these terms under "Terms of use" at the bottom of every page, together with earlier versions.
2. The operator may amend the terms within the law. It announces the effective date and the changes on the exchange 7 days before they take effect (30 days before for changes unfavourable to members).
3. Members signing in after an amendment takes effect are shown the changes and asked to agree. A member who does not agree may leave.

## Article 4 (Signing up)
1. To sign up, a person enters a name, an e-mail address and a password, agrees to these terms and the privacy policy, and opens the confirmation link sent by e-mail.
2. Children under 14 may not sign up.
3. The operator may refuse or restrict a member who uses another person's details or enters false details.
4. The exchange never collects resident registration numbers.

## Article 5 (Leaving and loss of membership)
1. A member may ask the operator at any time to close the account; the operator does so without delay, after any open order has ended.
2. A former member's personal data is kept only for the periods set in the privacy policy, then destroyed.
3. The operator may restrict or end the membership of a member who breaks these terms or the law, stating the reason.

## Article 6 (Registering and verifying organizations)
1. A member registers an organization with its business registration number (a city department uses its parent's), its VAT status and its contacts.
2. The operator's platform admins check the details and verify the organization, or reject it with a reason.
3. An organization's owners invite other members and give them roles (owner, publisher, buyer, viewer). The organization is responsible for what is done in its name.

## Article 7 (Publishing data; duties of providers)
1. A provider registers a dataset, which is published after the operator's review. The operator may reject or suspend a dataset whose description is insufficient or that breaks these terms or the law.
2. Providers must not upload personal data they have no legal basis to process (in particular resident registration numbers) or material in which third parties hold rights. Uploaded files are checked automatically; a file with resident registration numbers cannot be published.
3. Under the Public Data Act, public data may not be restricted from commercial use and its fee may not exceed the minimum cost of providing it. Providers state the basis of the fee.

## Article 8 (Licences)
1. Every dataset shows its licence (KOGL, Creative Commons, or terms set by the provider). A buyer reads and accepts it when ordering; the exchange records the accepted text and the time on the order.
2. Buyers use the data only within the licence they accepted and keep its duties, such as attribution.

## Article 9 (Prices, orders and payment)
1. Prices are shown as supply value, VAT and total. VAT is charged or not according to the provider's VAT status.
2. Paid orders are paid by card (through a payment gateway) or by bank transfer. An order not paid by its due time is cancelled automatically.
3. A free dataset is ordered without payment once its licence is accepted.
4. Tax invoices or receipts are issued with the billing details given at checkout.

## Article 10 (Withdrawal and refunds)
1. An order may be cancelled at any time before it is paid; nothing is charged.
2. A paid order may be withdrawn within 7 days of payment as long as no file has been downloaded; the operator refunds within 3 business days of the request (Act on Consumer Protection in Electronic Commerce, Articles 17 and 18).
3. Data is digital content: once a download has started, withdrawal is restricted (Article 17(2)5 of the same Act). For this reason the exchange shows the description, the columns, a preview and a free sample before purchase.
4. If the data differs from its description or a file is damaged, the order may be withdrawn or the data delivered again within 30 days of noticing and 3 months of delivery, even after a download.

## Article 11 (Delivery)
1. Once payment is confirmed or a free order is complete, the exchange builds a package (data, licence, README and checksums) to download from the order page.
2. Packages are deleted after a while and can be built again while the entitlement lasts. A subscription delivers the new versions published during its period.

## Article 12 (Members' duties)
Members must not:

1. use another person's account or organization;
2. use downloaded data beyond its licence or pass it to third parties;
3. try to identify individuals, for example by combining the data with other information;
4. disturb the operation or threaten the security of the exchange.

## Article 13 (Changes and interruptions)
The operator may suspend the service temporarily for maintenance, failures or force majeure, announcing it in advance when it can.

## Article 14 (Limitation of liability)
1. The provider that published a dataset is responsible for its content and accuracy.
2. Unless it acted wilfully or negligently, the operator is not liable for damage arising from a member's use of data.

## Article 15 (Disputes)
1. Tell the operator ({operator_phone}, {operator_email}) about any problem or dispute; you will be told how it was handled.
2. Disputes about data transactions may be brought to the Data Dispute Mediation Committee under the Framework Act on Data Industry.
3. Lawsuits go to the competent court under the Civil Procedure Act.

## Addendum
These terms take effect on 1 December 2026.
"""

PRIVACY_KO = """\
{operator_name}(이하 "운영기관")은 시흥 데이터거래소(이하 "거래소")를 운영하면서 「개인정보 보호법」 제30조에 따라 정보주체의 개인정보를 보호하고 관련 고충을 신속하고 원활하게 처리하기 위해 다음과 같이 개인정보 처리방침을 정하여 공개합니다.

## 1. 개인정보의 처리 목적
운영기관은 다음 목적으로만 개인정보를 처리하며, 목적이 바뀌면 「개인정보 보호법」 제18조에 따라 별도의 동의를 받는 등 필요한 조치를 합니다.

1. **회원 가입과 관리**: 본인 확인(전자우편 확인), 로그인, 회원 자격 유지·관리, 부정 이용 방지, 탈퇴 처리, 약관 개정 안내
2. **기관 등록과 검증**: 기관 회원의 사업자 확인, 기관 구성원 초대와 역할 관리
3. **데이터 거래**: 주문 접수, 이용허락 동의 기록, 결제와 환불, 세금계산서·영수증 발급, 데이터 패키지 제공과 내려받기 권한 확인
4. **민원 처리**: 문의·불만 접수와 처리 결과 안내
5. **서비스 보안과 개선**: 접속 기록 보관, 장애·부정 이용 조사, 이용 통계(개인을 알아볼 수 없는 형태)

## 2. 처리하는 개인정보의 항목
| 구분 | 항목 | 수집 방법 |
|---|---|---|
| 회원 가입(필수) | 이름, 전자우편 주소, 비밀번호(단방향 암호화하여 저장), 이용약관·개인정보 처리방침 동의 기록(동의한 버전, 시각, IP 주소) | 가입 화면 |
| 회원 정보(선택) | 전화번호 | 내 정보 화면 |
| 기관 등록 | 기관명, 사업자등록번호, 대표자명, 주소, 담당자 이름·전화번호·전자우편, 누리집 주소 | 기관 등록 화면 |
| 주문·결제 | 청구 정보(세금계산서 받는 곳, 사업자등록번호, 전자우편, 전화번호, 주소), 주문·결제 기록(결제 수단, 금액, 승인 시각, 결제대행사 거래번호), 무통장입금 입금자명, 이용허락 동의 기록(동의한 조건, 시각, IP 주소) | 주문 화면, 결제대행사 |
| 자동 수집 | 접속 IP 주소, 접속 일시, 브라우저 정보, 쿠키(로그인 유지·언어 선택), 데이터 내려받기 기록(일시, 패키지) | 서비스 이용 과정 |

거래소는 주민등록번호를 수집하지 않으며, 카드번호는 결제대행사가 처리하고 운영기관은 보관하지 않습니다. 만 14세 미만 아동의 개인정보는 처리하지 않습니다.

## 3. 개인정보의 처리 및 보유 기간
운영기관은 법령에 따른 보유 기간 또는 정보주체에게 동의받은 기간 안에서 개인정보를 처리·보유합니다.

1. **회원 정보**: 탈퇴할 때까지. 다만 진행 중인 주문이나 분쟁이 있으면 끝날 때까지
2. **계약 또는 청약철회 등에 관한 기록**: 5년 (「전자상거래 등에서의 소비자보호에 관한 법률」 제6조, 시행령 제6조)
3. **대금결제 및 재화 등의 공급에 관한 기록**(주문, 결제, 이용허락 동의, 내려받기 기록): 5년 (같은 법)
4. **소비자의 불만 또는 분쟁처리에 관한 기록**: 3년 (같은 법)
5. **세금계산서 등 거래 증빙**: 5년 (「국세기본법」 제85조의3, 「부가가치세법」 제71조)
6. **접속 기록**(로그인 일시, IP 주소): 3개월 (「통신비밀보호법」 제15조의2, 시행령 제41조). 다만 개인정보처리시스템의 접속 기록은 「개인정보의 안전성 확보조치 기준」에 따라 1년 이상(5만 명 이상의 정보주체에 관한 처리 등은 2년 이상)
7. **기관 검증, 데이터 심사, 주문 상태 변경 기록**(감사 기록, 누가 언제 무엇을 결정했는지): 거래소를 운영하는 동안. 회원이 탈퇴하면 이 기록의 이름과 전자우편 주소는 위 거래 기록 보유 기간이 지난 뒤 알아볼 수 없게 처리합니다.

## 4. 개인정보의 파기 절차 및 방법
1. **파기 절차**: 보유 기간이 끝났거나 처리 목적을 이룬 개인정보는 개인정보 보호책임자의 승인을 받아 지체 없이(5일 이내) 파기합니다. 다른 법령에 따라 계속 보존해야 하는 개인정보는 다른 개인정보와 분리하여 저장·관리합니다.
2. **파기 방법**: 전자 파일은 복구할 수 없는 방법으로 삭제하고, 종이 문서는 분쇄하거나 소각합니다.

## 5. 개인정보의 제3자 제공
운영기관은 정보주체의 개인정보를 제1항의 목적 범위에서만 처리하며, 정보주체의 동의나 법률의 특별한 규정 등 「개인정보 보호법」 제17조·제18조에 해당하는 경우에만 제3자에게 제공합니다. 다만 주문한 데이터셋을 제공하는 제공기관에는 거래 이행을 위해 다음을 제공합니다.

| 받는 자 | 목적 | 항목 | 보유 기간 |
|---|---|---|---|
| 주문한 데이터셋의 제공기관 | 거래 이행, 세금계산서 발급, 이용허락 관리 | 구매기관명, 주문자 이름, 청구 정보, 주문 내용, 이용허락 동의 기록 | 제3항의 거래 기록 보유 기간 |

## 6. 개인정보 처리의 위탁
운영기관은 원활한 업무 처리를 위해 다음과 같이 개인정보 처리 업무를 위탁합니다.

| 수탁자 | 위탁 업무 |
|---|---|
| 전자결제대행사(토스페이먼츠 주식회사) | 카드 결제 승인·취소, 결제 기록 보관 |
| 전자우편 발송 업체(운영기관이 계약한 발송 서비스) | 가입 확인, 비밀번호 재설정, 주문·제공 안내 전자우편 발송 |
| 시스템 유지보수 업체 | 거래소 시스템의 운영과 유지보수 |

운영기관은 위탁 계약을 맺을 때 「개인정보 보호법」 제26조에 따라 위탁 업무 목적 외 처리 금지, 기술적·관리적 보호조치, 재위탁 제한, 수탁자 관리·감독, 손해배상 등 책임에 관한 사항을 계약서에 적고, 수탁자가 개인정보를 안전하게 처리하는지 감독합니다. 수탁자나 위탁 업무가 바뀌면 이 처리방침을 개정해 알립니다.

## 7. 정보주체와 법정대리인의 권리·의무 및 행사 방법
1. 정보주체는 운영기관에 언제든지 개인정보 열람, 정정·삭제, 처리정지, 동의 철회를 요구할 수 있습니다(「개인정보 보호법」 제35조~제37조).
2. 이름과 전화번호는 "내 정보" 화면에서, 기관 정보는 기관 화면에서 직접 고칠 수 있습니다. 그 밖의 요구는 서면, 전자우편({privacy_officer_email}), 전화({privacy_officer_phone})로 아래 개인정보 열람청구 부서에 하실 수 있으며, 운영기관은 10일 이내에 조치하고 결과를 알려 드립니다.
3. 대리인을 통해서도 요구할 수 있으며, 이 경우 「개인정보 처리 방법에 관한 고시」에 따른 위임장을 내야 합니다.
4. 다른 법령에서 수집 대상으로 정하거나 보존하도록 한 개인정보는 삭제를 요구할 수 없으며, 법률에 특별한 규정이 있는 등의 경우에는 열람이나 처리정지 요구가 제한될 수 있습니다. 이 경우 그 사유를 알려 드립니다.
5. 운영기관은 요구한 사람이 본인이거나 정당한 대리인인지 확인합니다.

## 8. 개인정보의 안전성 확보조치
운영기관은 「개인정보 보호법」 제29조에 따라 다음 조치를 합니다.

1. **관리적 조치**: 내부관리계획 수립·시행, 개인정보 취급자 최소화와 정기 교육
2. **기술적 조치**: 비밀번호 단방향 암호화(Argon2), 전 구간 암호화 통신(HTTPS), 개인정보처리시스템 접근 권한 관리와 접속 기록 보관·점검, 보안 프로그램 설치와 갱신, 올린 파일의 개인정보 자동 검사
3. **물리적 조치**: 전산실과 자료 보관실의 출입 통제

## 9. 개인정보 자동 수집 장치의 설치·운영 및 거부
1. 거래소는 로그인 유지, 언어 선택, 위조 요청 방지를 위해 쿠키를 사용합니다. 광고나 행태 추적용 쿠키는 사용하지 않습니다.
2. 브라우저 설정에서 쿠키 저장을 거부할 수 있지만, 거부하면 로그인이 필요한 기능을 이용할 수 없습니다.

## 10. 개인정보 보호책임자
운영기관은 개인정보 처리에 관한 업무를 총괄하고 정보주체의 불만 처리와 피해 구제를 위해 개인정보 보호책임자를 지정하고 있습니다.

- 개인정보 보호책임자: {privacy_officer}
- 연락처: {privacy_officer_phone}, {privacy_officer_email}

## 11. 개인정보 열람청구를 접수·처리하는 부서
- 부서: {operator_name}
- 주소: {operator_address}
- 연락처: {operator_phone}, {operator_email}

정보주체는 운영기관 외에도 개인정보보호위원회의 개인정보보호 포털(www.privacy.go.kr)을 통해 열람을 청구할 수 있습니다.

## 12. 권익침해 구제 방법
개인정보 침해로 인한 구제를 받기 위해 다음 기관에 분쟁 조정이나 상담을 신청할 수 있습니다.

- 개인정보분쟁조정위원회: 국번 없이 1833-6972 (www.kopico.go.kr)
- 개인정보침해신고센터: 국번 없이 118 (privacy.kisa.or.kr)
- 대검찰청: 국번 없이 1301 (www.spo.go.kr)
- 경찰청: 국번 없이 182 (ecrm.police.go.kr)

열람, 정정·삭제, 처리정지 요구에 대한 공공기관의 처분으로 권리나 이익을 침해받은 경우에는 「행정심판법」에 따라 행정심판을 청구할 수 있습니다(중앙행정심판위원회 국번 없이 110, www.simpan.go.kr).

## 13. 개인정보 처리방침의 변경
이 개인정보 처리방침은 2026년 12월 1일부터 적용됩니다. 이전 처리방침은 이 화면의 "모든 버전"에서 볼 수 있습니다.
"""

PRIVACY_EN = """\
*This English text is a translation for convenience; the Korean text prevails.*

{operator_name} (the "operator") runs the Siheung Data Exchange (the "exchange"). Under Article 30 of the Personal Information Protection Act (PIPA) it publishes this privacy policy to protect the personal data of data subjects and to handle their complaints quickly.

## 1. Purposes of processing
The operator processes personal data only for the following purposes; before using it for another purpose it takes the steps Article 18 of PIPA requires, such as asking for separate consent.

1. **Membership**: confirming identity (e-mail confirmation), sign-in, keeping the membership, preventing abuse, closing accounts, announcing amended terms
2. **Organizations**: checking the business of organization members, inviting members and managing their roles
3. **Data transactions**: taking orders, recording licence acceptances, payments and refunds, tax invoices and receipts, delivering data packages and checking download rights
4. **Complaints**: receiving questions and complaints and reporting how they were handled
5. **Security and improvement**: keeping access logs, investigating failures and abuse, usage statistics (in a form that identifies no one)

## 2. Personal data processed
| what for | items | collected through |
|---|---|---|
| Sign-up (required) | name, e-mail address, password (stored as a one-way hash), agreements to the terms and the privacy policy (version, time, IP address) | sign-up page |
| Profile (optional) | phone number | "My profile" page |
| Organizations | organization name, business registration number, representative, address, contact person's name, phone and e-mail, website | organization page |
| Orders and payments | billing details (invoice recipient, business registration number, e-mail, phone, address), order and payment records (method, amount, time of approval, the payment gateway's transaction id), bank-transfer depositor name, licence acceptances (text accepted, time, IP address) | checkout, payment gateway |
| Collected automatically | IP address, time of access, browser information, cookies (staying signed in, language), download records (time, package) | use of the service |

The exchange never collects resident registration numbers. Card numbers are handled by the payment gateway; the operator does not keep them. Personal data of children under 14 is not processed.

## 3. Retention periods
Personal data is kept only for the period set by law or agreed by the data subject:

1. **Member data**: until the member leaves, or until an open order or dispute has ended
2. **Records of contracts and withdrawals**: 5 years (Act on Consumer Protection in Electronic Commerce, Article 6 and its Enforcement Decree, Article 6)
3. **Records of payment and supply** (orders, payments, licence acceptances, downloads): 5 years (same Act)
4. **Records of consumer complaints and disputes**: 3 years (same Act)
5. **Tax invoices and other evidence of transactions**: 5 years (Framework Act on National Taxes, Article 85-3; Value-Added Tax Act, Article 71)
6. **Access logs** (sign-in times, IP addresses): 3 months (Protection of Communications Secrets Act, Article 15-2, Enforcement Decree Article 41); access records of the personal data processing system at least 1 year (2 years where the Standards on Security Measures require it)
7. **Records of organization verification, dataset reviews and order state changes** (the audit trail: who decided what, when): while the exchange is run. When a member leaves, their name and e-mail address in these records are made unidentifiable once the transaction record periods above have passed.

## 4. Destruction
1. **Procedure**: personal data whose retention period has ended or whose purpose has been achieved is destroyed without delay (within 5 days) with the approval of the privacy officer. Data that another law requires to be kept is stored separately from other personal data.
2. **Method**: electronic files are deleted so that they cannot be recovered; paper is shredded or incinerated.

## 5. Provision to third parties
Personal data is processed only within the purposes in section 1 and given to third parties only with the data subject's consent, under a specific provision of law, or otherwise as Articles 17 and 18 of PIPA allow. To carry out an order, the provider of the ordered dataset receives:

| recipient | purpose | items | kept for |
|---|---|---|---|
| the provider of the ordered dataset | carrying out the transaction, tax invoices, licence management | buying organization, name of the person who ordered, billing details, order, licence acceptances | the transaction record periods in section 3 |

## 6. Entrusted processing
The operator entrusts the following processing:

| processor | work |
|---|---|
| payment gateway (Toss Payments Co., Ltd.) | approving and cancelling card payments, keeping payment records |
| e-mail delivery service (contracted by the operator) | sending confirmation, password-reset, order and delivery e-mails |
| system maintenance contractor | running and maintaining the exchange's systems |

Under Article 26 of PIPA the entrustment contracts forbid processing beyond the entrusted work and require technical and managerial safeguards, restrict sub-entrustment, provide for supervision and liability for damage; the operator supervises that processors handle the data safely. When a processor or the work changes, this policy is amended and announced.

## 7. Rights of data subjects and how to exercise them
1. You may at any time ask the operator to let you see, correct or delete your personal data, to stop processing it, or withdraw your consent (PIPA Articles 35 to 37).
2. You can change your name and phone number on the "My profile" page and your organization's details on its page. For anything else, write, e-mail ({privacy_officer_email}) or call ({privacy_officer_phone}) the department in section 11; the operator acts within 10 days and tells you the result.
3. You may act through a representative, who must submit a power of attorney as the PIPC's notice on processing methods requires.
4. Data that another law requires to be collected or kept cannot be deleted on request, and access or suspension may be restricted where a law so provides; you will be told the reason.
5. The operator checks that the person asking is you or your lawful representative.

## 8. Security measures
Under Article 29 of PIPA the operator:

1. **Managerial**: keeps and follows an internal management plan, keeps the staff handling personal data to a minimum and trains them regularly;
2. **Technical**: hashes passwords one-way (Argon2), encrypts all traffic (HTTPS), manages access rights to the processing system and keeps and reviews its access records, installs and updates security software, checks uploaded files for personal data automatically;
3. **Physical**: controls access to the computer room and archives.

## 9. Cookies
1. The exchange uses cookies to keep you signed in, to remember your language and to prevent forged requests. It uses no advertising or tracking cookies.
2. You can refuse cookies in your browser settings, but then you cannot use the features that need signing in.

## 10. Privacy officer
The operator has appointed a privacy officer who is responsible for the processing of personal data and handles complaints and remedies.

- Privacy officer: {privacy_officer}
- Contact: {privacy_officer_phone}, {privacy_officer_email}

## 11. Department handling access requests
- Department: {operator_name}
- Address: {operator_address}
- Contact: {operator_phone}, {operator_email}

You may also request access through the PIPC's Personal Information Portal (www.privacy.go.kr).

## 12. Remedies
For remedies against an infringement you can apply for mediation or advice to:

- Personal Information Dispute Mediation Committee: 1833-6972 (www.kopico.go.kr)
- Personal Information Infringement Report Center: 118 (privacy.kisa.or.kr)
- Supreme Prosecutors' Office: 1301 (www.spo.go.kr)
- Korean National Police Agency: 182 (ecrm.police.go.kr)

If a public body's decision on a request to see, correct, delete or stop processing infringes your rights, you may file an administrative appeal under the Administrative Appeals Act (Central Administrative Appeals Commission: 110, www.simpan.go.kr).

## 13. Changes to this policy
This privacy policy applies from 1 December 2026. Earlier versions are listed on this page under "All versions".
"""

TEXTS = {"terms": (TERMS_KO, TERMS_EN), "privacy": (PRIVACY_KO, PRIVACY_EN)}


def seed(PolicyVersion) -> None:  # noqa: N803 (a model class, from the migration's apps or the real one)
    """Create version 1.0 of both documents unless they exist (idempotent)."""
    for kind, (body_ko, body_en) in TEXTS.items():
        PolicyVersion.objects.get_or_create(
            kind=kind,
            version=VERSION,
            defaults={
                "effective_on": EFFECTIVE_ON,
                "body_ko": body_ko,
                "body_en": body_en,
                "changes_ko": "최초 제정",
                "changes_en": "First version",
            },
        )
