// SPDX-License-Identifier: MIT
pragma solidity 0.8.37;

import {ERC721A} from "erc721a/contracts/ERC721A.sol";
import {IERC721A} from "erc721a/contracts/IERC721A.sol";
import {ERC2981} from "@openzeppelin/contracts/token/common/ERC2981.sol";
import {Ownable} from "@openzeppelin/contracts/access/Ownable.sol";

/// @title Latent Gallery set
/// @notice ERC-721 tokens for curated sets of Latent Gallery artworks. A whole set is minted in
/// one transaction (ERC721A); royalties follow EIP-2981; collection metadata is at contractURI.
/// The base URI (a content-addressed directory of per-token metadata) can be changed by the owner
/// until it is frozen, for good.
contract LatentGallerySet is ERC721A, ERC2981, Ownable {
    /// A batch is minted in chunks of this many tokens, each with an explicit ownership slot, so a
    /// transfer never scans back through more than `ownershipStride - 1` slots (bounded gas).
    uint256 public immutable ownershipStride;

    string private _baseTokenURI;
    string private _contractMetadataURI;
    bool public baseURIFrozen;

    error BaseURIIsFrozen();
    error UnexpectedFirstToken(uint256 expected, uint256 actual);
    error ZeroQuantity();
    error BadStride();

    /// ERC-4906: marketplaces refresh metadata of this range.
    event BatchMetadataUpdate(uint256 _fromTokenId, uint256 _toTokenId);
    /// ERC-7572: the collection metadata changed.
    event ContractURIUpdated();
    /// The base URI is frozen for good (the OpenSea "PermanentURI" convention for a whole range).
    event BaseURIFrozenForGood(string baseURI);

    constructor(
        string memory name_,
        string memory symbol_,
        string memory baseURI_,
        string memory contractURI_,
        address royaltyReceiver,
        uint96 royaltyBps,
        uint256 ownershipStride_,
        address initialOwner
    ) ERC721A(name_, symbol_) Ownable(initialOwner) {
        if (ownershipStride_ == 0) revert BadStride();
        ownershipStride = ownershipStride_;
        _baseTokenURI = baseURI_;
        _contractMetadataURI = contractURI_;
        _setDefaultRoyalty(royaltyReceiver, royaltyBps);
    }

    /// Mint `quantity` tokens to `to`, starting at token id `firstTokenId`. The explicit first id
    /// makes a replayed or duplicated mint transaction revert instead of minting twice.
    function mintBatch(address to, uint256 firstTokenId, uint256 quantity) external onlyOwner {
        if (quantity == 0) revert ZeroQuantity();
        uint256 next = _nextTokenId();
        if (next != firstTokenId) revert UnexpectedFirstToken(firstTokenId, next);
        // Mint in chunks of `ownershipStride`: each chunk writes its own ownership slot (no scan
        // at mint time), so a later transfer scans back at most `ownershipStride - 1` slots.
        uint256 stride = ownershipStride;
        while (quantity > stride) {
            _mint(to, stride);
            unchecked {
                quantity -= stride;
            }
        }
        _mint(to, quantity);
    }

    function setBaseURI(string calldata uri) external onlyOwner {
        if (baseURIFrozen) revert BaseURIIsFrozen();
        _baseTokenURI = uri;
        uint256 next = _nextTokenId();
        if (next > _startTokenId()) emit BatchMetadataUpdate(_startTokenId(), next - 1);
    }

    function freezeBaseURI() external onlyOwner {
        if (baseURIFrozen) revert BaseURIIsFrozen();
        baseURIFrozen = true;
        emit BaseURIFrozenForGood(_baseTokenURI);
    }

    function setContractURI(string calldata uri) external onlyOwner {
        _contractMetadataURI = uri;
        emit ContractURIUpdated();
    }

    function setDefaultRoyalty(address receiver, uint96 bps) external onlyOwner {
        _setDefaultRoyalty(receiver, bps);
    }

    function contractURI() external view returns (string memory) {
        return _contractMetadataURI;
    }

    function baseURI() external view returns (string memory) {
        return _baseTokenURI;
    }

    function nextTokenId() external view returns (uint256) {
        return _nextTokenId();
    }

    function totalMinted() external view returns (uint256) {
        return _totalMinted();
    }

    function _startTokenId() internal pure override returns (uint256) {
        return 1;
    }

    function _baseURI() internal view override returns (string memory) {
        return _baseTokenURI;
    }

    function supportsInterface(bytes4 interfaceId) public view override(ERC721A, ERC2981) returns (bool) {
        return ERC721A.supportsInterface(interfaceId) || ERC2981.supportsInterface(interfaceId)
            || interfaceId == bytes4(0x49064906);
    }
}
